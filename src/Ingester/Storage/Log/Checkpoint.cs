using System.Buffers.Binary;
using System.Text;
using ZenMesh.Xds.LastKnownGood;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// What the log store knew at one position of its log (segment <see cref="Seq"/>, offset
/// <see cref="End"/>): each segment's state, and every job open there. A restart takes it and reads
/// the log only after that position, instead of from its first segment. A job acknowledged in memory
/// but whose acknowledgement was not yet in the log counts as open: the checkpoint says nothing the
/// log does not.
/// The file: "ZMCP", a version, the position, the segments, each flow's jobs in log order, then the
/// CRC-32C of all before it. Since version 2 a flow's jobs are in blocks of up to 4,096, each after
/// its count, ended by an empty one: the writer reads each job's state once, as it writes it, and
/// holds no list of a million jobs (24 MB on the large object heap, every checkpoint). Version 1
/// (one count, then every job) is still read. Written beside the last one and written out a MiB at a time (a big one
/// written out in one go would hold up the commits' syncs behind it), synced, then renamed over it: a
/// crash leaves one or the other, whole.
/// </summary>
internal sealed record Checkpoint(long Seq, int End, IReadOnlyList<SegmentState> Segments, IReadOnlyList<(string Flow, CheckpointJobs Jobs)> Flows)
{
    public const string FileName = "checkpoint";

    private const uint Magic = 0x50434D5A; // "ZMCP"

    private const int Version = 2;

    private const int OldestReadable = 1;

    private const int JobsPerBlock = 4096;

    private const int WriteOutEvery = 1 << 20;

    /// <summary>What a job takes in the file: its key and its record's length.</summary>
    public const int JobBytes = 8 + 4 + 4 + 4;

    /// <summary>
    /// Writes the checkpoint at (<paramref name="seq"/>, <paramref name="end"/>) with each flow's jobs
    /// in the first <c>Length</c> of its array that are not done when read; returns how many were written.
    /// </summary>
    public static long Write(string directory, long seq, int end, IReadOnlyList<SegmentState> segments, IReadOnlyList<OpenJobs.FlowSnapshot> flows)
    {
        long written = 0;
        var path = Path.Combine(directory, FileName);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
        {
            using var crc = new CrcStream(file);
            using (var w = new BinaryWriter(crc, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Magic);
                w.Write(Version);
                w.Write(seq);
                w.Write(end);
                w.Write(segments.Count);
                foreach (var s in segments)
                {
                    w.Write(s.Seq);
                    w.Write(s.End);
                    w.Write(s.Day is not null);
                    w.Write(s.Day ?? "");
                    w.Write(s.Oldest.UtcTicks);
                    w.Write(s.Newest.UtcTicks);
                    w.Write(s.Latest.UtcTicks);
                    w.Write(s.Counts.Count);
                    foreach (var (tenant, endpoint, events) in s.Counts)
                    {
                        w.Write(tenant);
                        w.Write(endpoint);
                        w.Write(events);
                    }
                }
                w.Write(flows.Count);
                // A million jobs are 20 MB: laid out a block at a time (80 KiB, under the large object heap's threshold), not four calls each.
                var block = new byte[JobBytes * JobsPerBlock];
                foreach (var flow in flows)
                {
                    w.Write(flow.Flow);
                    var used = 0;
                    foreach (var job in flow.OpenJobs())
                    {
                        var into = block.AsSpan(used, JobBytes);
                        BinaryPrimitives.WriteInt64LittleEndian(into, job.Key.Segment);
                        BinaryPrimitives.WriteInt32LittleEndian(into[8..], job.Key.Offset);
                        BinaryPrimitives.WriteInt32LittleEndian(into[12..], job.Key.Flow);
                        BinaryPrimitives.WriteInt32LittleEndian(into[16..], job.Length);
                        used += JobBytes;
                        written++;
                        if (used == block.Length)
                        {
                            w.Write(JobsPerBlock);
                            w.Write(block);
                            used = 0;
                        }
                    }
                    if (used > 0)
                    {
                        w.Write(used / JobBytes);
                        w.Write(block.AsSpan(0, used));
                    }
                    w.Write(0);
                }
            }
            Span<byte> trailer = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc.Crc);
            file.Write(trailer);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        DirectorySync.Flush(directory);
        return written;
    }

    /// <summary>The directory's checkpoint; null when there is none, or when it is not whole (<paramref name="problem"/> says why).</summary>
    public static Checkpoint? Read(string directory, out string? problem)
    {
        problem = null;
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 12 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
        {
            problem = $"{path} is not a checkpoint";
            return null;
        }
        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4));
        if (version is < OldestReadable or > Version)
        {
            problem = $"{path} is a checkpoint of version {version}, this ingester reads versions {OldestReadable} to {Version}";
            return null;
        }
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4)) != Crc32C.Of(bytes.AsSpan(0, bytes.Length - 4)))
        {
            problem = $"{path} does not match its CRC";
            return null;
        }
        try
        {
            var body = new MemoryStream(bytes, 0, bytes.Length - 4) { Position = 8 };
            using var r = new BinaryReader(body, Encoding.UTF8);
            var seq = r.ReadInt64();
            var end = r.ReadInt32();
            var segments = new SegmentState[r.ReadInt32()];
            for (var i = 0; i < segments.Length; i++)
            {
                var segmentSeq = r.ReadInt64();
                var segmentEnd = r.ReadInt32();
                var hasDay = r.ReadBoolean();
                var day = r.ReadString();
                var oldest = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
                var newest = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
                var latest = new DateTimeOffset(r.ReadInt64(), TimeSpan.Zero);
                var counts = new (string, string, long)[r.ReadInt32()];
                for (var c = 0; c < counts.Length; c++)
                {
                    counts[c] = (r.ReadString(), r.ReadString(), r.ReadInt64());
                }
                segments[i] = new SegmentState(segmentSeq, segmentEnd, hasDay ? day : null, oldest, newest, latest, counts);
            }
            var flows = new (string, CheckpointJobs)[r.ReadInt32()];
            for (var f = 0; f < flows.Length; f++)
            {
                var flow = r.ReadString();
                var jobs = ReadJobs(flow, bytes, (int)body.Length, version, (int)body.Position, out var at);
                body.Position = at;
                flows[f] = (flow, jobs);
            }
            return new Checkpoint(seq, end, segments, flows);
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or FormatException)
        {
            // Its CRC matched, so this is a file we did not write; said, and the log read instead.
            problem = $"{path} could not be read: {e.Message}";
            return null;
        }
    }

    /// <summary>A flow's jobs, from its first block at <paramref name="at"/> to its last (the one block of version 1), each block's count checked against the file; <paramref name="next"/> is where what follows starts.</summary>
    private static CheckpointJobs ReadJobs(string flow, byte[] file, int length, int version, int at, out int next)
    {
        long total = 0;
        int count;
        next = at;
        do
        {
            if (length - next < 4)
            {
                throw new FormatException($"flow {flow}'s jobs end before their last block");
            }
            count = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(next));
            next += 4;
            if (count < 0 || (long)count * JobBytes > length - next)
            {
                throw new FormatException($"flow {flow} has a block of {count} jobs, more than the file holds");
            }
            total += count;
            next += count * JobBytes;
        }
        while (version >= 2 && count > 0);
        return new CheckpointJobs(file, at, next, (int)total);
    }

    /// <summary>Passes writes on, folding them into a CRC, and writes the file out a MiB at a time.</summary>
    private sealed class CrcStream(FileStream inner) : Stream
    {
        private uint _state = ~0u;
        private long _writtenOut;

        public uint Crc => ~_state;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _state = Crc32C.Update(_state, buffer);
            inner.Write(buffer);
            if (inner.Position - _writtenOut >= WriteOutEvery)
            {
                inner.Flush();
                DataSync.WriteOut(inner.SafeFileHandle, _writtenOut, inner.Position - _writtenOut);
                _writtenOut = inner.Position;
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => Write([value]);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
