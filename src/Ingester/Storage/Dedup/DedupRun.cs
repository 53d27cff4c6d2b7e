using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;
using ZenMesh.Xds.LastKnownGood;

namespace ZenMesh.Ingester.Storage.Dedup;

/// <summary>
/// One immutable file of claims sorted by key. Written once, in order, to a temporary name, fsync'd
/// and renamed into place, so a run that exists is whole. A lookup costs a bloom filter test in
/// memory (one in a hundred keys that are not there gets further), a binary search of an in-memory
/// fence of every 64th key, and at most seven key reads in one 2 KiB block of the mapped file; memory
/// holds 1.5 bytes per key (1.25 of bloom filter, 0.25 of fence), the rest stays on disk.
/// Layout, little-endian: a 64-byte header; the entries (key, then the event's UUID in RFC byte
/// order: 32 bytes each); the fence; the bloom filter; the coverage (the highest rowid of each
/// day's table whose claims the run holds, so that a restart knows where to resume).
/// </summary>
public sealed class DedupRun : IDisposable
{
    public const string Extension = ".zmd";
    private const uint Magic = 0x44444D5A; // "ZMDD"
    private const int Version = 1;
    private const int HeaderSize = 64;
    private const int EntrySize = 32;
    private const int Stride = 64;
    private const int BitsPerKey = 10;
    private const int Probes = 7;
    private const int SyncEvery = (1 << 20) / EntrySize;

    private readonly MemoryMappedFile? _file;
    private readonly MemoryMappedViewAccessor _entries = null!;
    private readonly UInt128[] _fence;
    private readonly ulong[] _bloom;

    private DedupRun(string path, long seq, long count, UInt128[] fence, ulong[] bloom, IReadOnlyDictionary<string, long> coverage, long newestMs)
    {
        Path = path;
        Seq = seq;
        Count = count;
        _fence = fence;
        _bloom = bloom;
        Coverage = coverage;
        NewestClaim = DateTimeOffset.FromUnixTimeMilliseconds(newestMs);
        // An empty run (every claim in it had expired) has nothing to map, and nothing to find.
        if (count > 0)
        {
            _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            _entries = _file.CreateViewAccessor(HeaderSize, count * EntrySize, MemoryMappedFileAccess.Read);
        }
    }

    public string Path { get; }

    /// <summary>Runs are searched newest (highest seq) first.</summary>
    public long Seq { get; }

    public long Count { get; }

    public IReadOnlyDictionary<string, long> Coverage { get; }

    /// <summary>The latest claim in the run: once it has expired, so has the whole run.</summary>
    public DateTimeOffset NewestClaim { get; }

    public static string NameOf(long seq) => $"run-{seq:D12}{Extension}";

    /// <summary>The seq in a run's file name, or null when it is not one.</summary>
    public static long? SeqOf(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        return name.StartsWith("run-", StringComparison.Ordinal) && name.EndsWith(Extension, StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(4, name.Length - 4 - Extension.Length), out var seq) ? seq : null;
    }

    public bool TryFind(UInt128 key, out Guid uuid)
    {
        uuid = default;
        if (Count == 0 || !MayContain(key))
        {
            return false;
        }
        var block = Array.BinarySearch(_fence, key);
        if (block < 0)
        {
            block = ~block - 1;
            if (block < 0)
            {
                return false;
            }
        }
        long low = (long)block * Stride, high = Math.Min(Count, low + Stride) - 1;
        while (low <= high)
        {
            var middle = low + ((high - low) >> 1);
            var found = KeyAt(middle);
            if (found == key)
            {
                uuid = UuidAt(middle);
                return true;
            }
            if (found < key)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }
        return false;
    }

    /// <summary>Every entry, in key order (for a merge).</summary>
    public IEnumerable<DedupEntry> Entries()
    {
        for (long i = 0; i < Count; i++)
        {
            yield return new DedupEntry(KeyAt(i), UuidAt(i));
        }
    }

    private UInt128 KeyAt(long index) => new(_entries.ReadUInt64(index * EntrySize + 8), _entries.ReadUInt64(index * EntrySize));

    private Guid UuidAt(long index)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, _entries.ReadUInt64(index * EntrySize + 16));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], _entries.ReadUInt64(index * EntrySize + 24));
        return new Guid(bytes, bigEndian: true);
    }

    private bool MayContain(UInt128 key) => Probe(_bloom, key, set: false);

    /// <summary>Tests (or sets) the key's bits. The key is a hash already: its two halves make the probes (double hashing).</summary>
    private static bool Probe(ulong[] bloom, UInt128 key, bool set)
    {
        var bits = (ulong)bloom.Length * 64;
        ulong h1 = (ulong)key, h2 = (ulong)(key >> 64) | 1;
        for (var i = 0; i < Probes; i++)
        {
            var bit = (h1 + ((ulong)i * h2)) % bits;
            var mask = 1UL << (int)(bit & 63);
            if (set)
            {
                bloom[bit >> 6] |= mask;
            }
            else if ((bloom[bit >> 6] & mask) == 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Writes <paramref name="sorted"/> (strictly ascending keys, at most <paramref name="capacity"/>
    /// of them) as run <paramref name="seq"/> in <paramref name="directory"/>, durably, and opens it.
    /// </summary>
    public static DedupRun Write(string directory, long seq, IEnumerable<DedupEntry> sorted, long capacity, IReadOnlyDictionary<string, long> coverage)
    {
        var path = System.IO.Path.Combine(directory, NameOf(seq));
        var temporary = path + ".tmp";
        var fence = new List<UInt128>((int)Math.Min(int.MaxValue, (capacity / Stride) + 1));
        var bloom = new ulong[Math.Max(1, ((capacity * BitsPerKey) + 63) / 64)];
        long count = 0, newest = 0;
        // A buffer under the large object heap's 85,000 bytes: one of a MiB per run written or merged
        // was a large-object allocation each time, and those start gen2 collections.
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024))
        {
            stream.Position = HeaderSize;
            Span<byte> entry = stackalloc byte[EntrySize];
            UInt128? previous = null;
            foreach (var (key, uuid) in sorted)
            {
                if (previous is { } p && key <= p)
                {
                    throw new InvalidOperationException($"dedup run {seq}: keys must be strictly ascending");
                }
                previous = key;
                if (count % Stride == 0)
                {
                    fence.Add(key);
                }
                Probe(bloom, key, set: true);
                newest = Math.Max(newest, EventIds.TimeOf(uuid).ToUnixTimeMilliseconds());
                BinaryPrimitives.WriteUInt128LittleEndian(entry, key);
                uuid.TryWriteBytes(entry[16..], bigEndian: true, out _);
                stream.Write(entry);
                count++;
                if (count % SyncEvery == 0)
                {
                    // A run of many MiB synced at once queues the writer's WAL syncs behind it for tens of
                    // milliseconds; a MiB at a time, a commit waits a few at most.
                    stream.Flush(flushToDisk: true);
                }
            }
            Span<byte> word = stackalloc byte[16];
            foreach (var key in fence)
            {
                BinaryPrimitives.WriteUInt128LittleEndian(word, key);
                stream.Write(word);
            }
            foreach (var bits in bloom)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(word, bits);
                stream.Write(word[..8]);
            }
            foreach (var (partition, rowid) in coverage)
            {
                // Cut short, two partitions would share one coverage, and a restart would skip claims it must rebuild.
                if (partition.Length > 8)
                {
                    throw new ArgumentException($"partition name '{partition}' is longer than the 8 characters a dedup run keeps", nameof(coverage));
                }
                Encoding.ASCII.GetBytes(partition.PadRight(8).AsSpan(0, 8), word);
                BinaryPrimitives.WriteInt64LittleEndian(word[8..], rowid);
                stream.Write(word);
            }
            Span<byte> header = stackalloc byte[HeaderSize];
            header.Clear();
            BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
            BinaryPrimitives.WriteInt32LittleEndian(header[4..], Version);
            BinaryPrimitives.WriteInt64LittleEndian(header[8..], count);
            BinaryPrimitives.WriteInt64LittleEndian(header[16..], fence.Count);
            BinaryPrimitives.WriteInt64LittleEndian(header[24..], bloom.Length);
            BinaryPrimitives.WriteInt64LittleEndian(header[32..], coverage.Count);
            BinaryPrimitives.WriteInt64LittleEndian(header[40..], newest);
            stream.Position = 0;
            stream.Write(header);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        DirectorySync.Flush(directory);
        return new DedupRun(path, seq, count, [.. fence], bloom, coverage.ToDictionary(StringComparer.Ordinal), newest);
    }

    /// <summary>Opens a run written by <see cref="Write"/>; a file that is not one says so.</summary>
    public static DedupRun Open(string path)
    {
        var seq = SeqOf(path) ?? throw new InvalidDataException($"{path}: not a dedup run's name (run-<seq>{Extension})");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> header = stackalloc byte[HeaderSize];
        stream.ReadExactly(header);
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != Magic || BinaryPrimitives.ReadInt32LittleEndian(header[4..]) != Version)
        {
            throw new InvalidDataException($"{path}: not a version {Version} dedup run");
        }
        var count = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        var fenceCount = BinaryPrimitives.ReadInt64LittleEndian(header[16..]);
        var bloomWords = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        var coverageCount = BinaryPrimitives.ReadInt64LittleEndian(header[32..]);
        var newest = BinaryPrimitives.ReadInt64LittleEndian(header[40..]);
        var expected = HeaderSize + (count * EntrySize) + (fenceCount * 16) + (bloomWords * 8) + (coverageCount * 16);
        if (count < 0 || fenceCount != (count + Stride - 1) / Stride || bloomWords < 1 || coverageCount < 0 || stream.Length != expected)
        {
            throw new InvalidDataException($"{path}: a dedup run of {stream.Length} bytes whose header says {expected}");
        }
        stream.Position = HeaderSize + (count * EntrySize);
        var fence = new UInt128[fenceCount];
        Span<byte> word = stackalloc byte[16];
        for (var i = 0; i < fence.Length; i++)
        {
            stream.ReadExactly(word);
            fence[i] = BinaryPrimitives.ReadUInt128LittleEndian(word);
        }
        var bloom = new ulong[bloomWords];
        for (var i = 0; i < bloom.Length; i++)
        {
            stream.ReadExactly(word[..8]);
            bloom[i] = BinaryPrimitives.ReadUInt64LittleEndian(word);
        }
        var coverage = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < coverageCount; i++)
        {
            stream.ReadExactly(word);
            coverage[Encoding.ASCII.GetString(word[..8]).TrimEnd()] = BinaryPrimitives.ReadInt64LittleEndian(word[8..]);
        }
        return new DedupRun(path, seq, count, fence, bloom, coverage, newest);
    }

    public void Dispose()
    {
        _entries?.Dispose();
        _file?.Dispose();
    }
}
