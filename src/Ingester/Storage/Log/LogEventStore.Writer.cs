using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// The commit: a batch's records are laid out in one buffer and written with one positional write
/// (two when the batch crosses into a new segment), then synced. Only then does anything become
/// visible: jobs to leases, counts to status, claims to the dedup index.
/// </summary>
public sealed partial class LogEventStore
{
    // The claims of the batch being committed; kept (and cleared) from one batch to the next, as only the writer uses it.
    private readonly Dictionary<UInt128, string> _inBatch = [];

    // The partition name of the last event's day: formatting it for every event was the writer's work, and every event waits for the writer.
    private (long Day, string? Name) _lastDay;

    protected override List<object?> Commit(List<Work> batch)
    {
        var now = Time.GetUtcNow();
        var outcomes = new List<object?>(batch.Count);
        var inBatch = _inBatch;
        inBatch.Clear();
        var placed = new List<Placed>(batch.Count);
        var acks = new List<(Segment Segment, int End, List<OpenJob> Jobs)>();
        var layout = new Layout(this);
        try
        {
            foreach (var work in batch)
            {
                switch (work)
                {
                    case Append { Event: var e, Key: var key }:
                        if (_dedup.DuplicateOf(key, inBatch) is { } duplicateOf)
                        {
                            outcomes.Add(new StoredEvent(duplicateOf, Duplicate: true));
                            continue;
                        }
                        var uuid = Uuids.New(e.ReceivedAt);
                        var size = LogRecord.EventSize(e);
                        LogRecord.WriteEvent(layout.Place(size, DayOf(e.ReceivedAt), out var segment, out var offset), uuid, e);
                        placed.Add(new Placed(e, key, uuid, segment, offset, size));
                        var id = EventIds.Of(uuid);
                        inBatch[key] = id;
                        outcomes.Add(new StoredEvent(id, Duplicate: false));
                        break;
                    case AckJobs { Keys: var keys }:
                        var jobs = keys.Cast<OpenJob>().ToList();
                        var ackSize = LogRecord.AckSize(jobs.Count);
                        LogRecord.WriteAck(layout.Place(ackSize, day: null, out var ackSegment, out var ackOffset), now, [.. jobs.Select(j => j.Key)]);
                        acks.Add((ackSegment, ackOffset + ackSize, jobs));
                        outcomes.Add(null);
                        break;
                    case Expire:
                        // After the batch is on disk: see below.
                        outcomes.Add(null);
                        break;
                }
            }
            layout.WriteAndSync();
        }
        catch (IOException)
        {
            // What a failed write or sync left in the file is unknown (after a failed fsync, Linux may
            // drop the dirty pages): nothing more goes into that segment, the next batch starts a new one.
            lock (_gate)
            {
                if (_current is { } abandoned && !_segments.ContainsKey(abandoned.Seq))
                {
                    abandoned.Dispose();
                }
                _current = null;
            }
            throw;
        }
        Publish(placed, acks, layout, now);
        _logged += layout.Bytes;
        MaybeCheckpoint();
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch[i] is Expire)
            {
                outcomes[i] = ExpireNow(now);
            }
        }
        return outcomes;
    }

    private string DayOf(DateTimeOffset receivedAt)
    {
        var day = receivedAt.UtcTicks / TimeSpan.TicksPerDay;
        if (_lastDay.Name is null || _lastDay.Day != day)
        {
            _lastDay = (day, EventIds.PartitionOf(receivedAt));
        }
        return _lastDay.Name!;
    }

    private void Publish(List<Placed> placed, List<(Segment Segment, int End, List<OpenJob> Jobs)> acks, Layout layout, DateTimeOffset now)
    {
        long newJobs = 0;
        lock (_gate)
        {
            foreach (var (segment, end) in layout.Ends)
            {
                segment.End = end;
                _segments[segment.Seq] = segment;
            }
            foreach (var p in placed)
            {
                p.Segment.Counted(p.Event.Tenant, p.Event.Endpoint, p.Event.ReceivedAt);
                for (var flow = 0; flow < p.Event.Flows.Count; flow++)
                {
                    _jobs.Add(p.Event.Flows[flow], new JobKey(p.Segment.Seq, p.Offset, flow), p.Length);
                    newJobs++;
                }
            }
            foreach (var (segment, _, jobs) in acks)
            {
                segment.Touched(now);
                foreach (var job in jobs)
                {
                    _jobs.End(job);
                }
            }
        }
        foreach (var p in placed)
        {
            _dedup.Add(p.Key, p.Uuid, p.Segment.Name, p.Offset + p.Length);
        }
        // Acknowledgements hold no claims: a restart need not read them for any.
        foreach (var (segment, end, _) in acks)
        {
            _dedup.Cover(segment.Name, end);
        }
        _dedup.MaybeFlush();
        AddOpenJobs(newJobs);
    }

    private sealed record Placed(IncomingEvent Event, UInt128 Key, Guid Uuid, Segment Segment, int Offset, int Length);

    /// <summary>
    /// Where each record of a batch goes: the current segment while it has room and the event's day is
    /// not newer than the segment's, else the next one. The bytes for each segment are contiguous in
    /// the store's buffer and in the file.
    /// </summary>
    private sealed class Layout(LogEventStore store)
    {
        private readonly List<(Segment Segment, int FileOffset, int BufferStart, int BufferEnd)> _chunks = [];
        private int _used;

        public int Bytes => _used;

        public IEnumerable<(Segment Segment, int End)> Ends => _chunks.Select(c => (c.Segment, c.FileOffset + (c.BufferEnd - c.BufferStart)));

        public Span<byte> Place(int size, string? day, out Segment segment, out int offset)
        {
            var chunk = _chunks.Count > 0 ? _chunks[^1] : default;
            var current = store._current;
            var end = current is null ? 0 : chunk.Segment == current ? chunk.FileOffset + (_used - chunk.BufferStart) : current.End;
            if (current is null || current.Size - end < size || (day is not null && current.Day is not null && string.CompareOrdinal(day, current.Day) > 0))
            {
                current = store._preparer.Take(size);
                store._current = current;
                end = 0;
            }
            if (chunk.Segment != current)
            {
                _chunks.Add((current, end, _used, _used));
            }
            current.Day ??= day;
            if (store._buffer.Length < _used + size)
            {
                Array.Resize(ref store._buffer, Math.Max(store._buffer.Length * 2, _used + size));
            }
            segment = current;
            offset = end;
            var into = store._buffer.AsSpan(_used, size);
            _used += size;
            _chunks[^1] = _chunks[^1] with { BufferEnd = _used };
            return into;
        }

        /// <summary>
        /// Each write runs on to the end of its last page, with the zeroes that are on disk there already:
        /// a segment zeroed past the page cache (<see cref="SegmentPreparer"/>) would otherwise have that
        /// page read from the disk before the write could change part of it. The commit's first page,
        /// written by the commit before, is in the cache.
        /// </summary>
        public void WriteAndSync()
        {
            for (var i = 0; i < _chunks.Count; i++)
            {
                var (segment, fileOffset, start, end) = _chunks[i];
                var fileEnd = fileOffset + (end - start);
                var pad = (int)Math.Min(segment.Size - fileEnd, (DirectIo.Alignment - fileEnd % DirectIo.Alignment) % DirectIo.Alignment);
                if (i == _chunks.Count - 1)
                {
                    if (store._buffer.Length < end + pad)
                    {
                        Array.Resize(ref store._buffer, end + pad);
                    }
                    store._buffer.AsSpan(end, pad).Clear();
                    RandomAccess.Write(segment.Handle, store._buffer.AsSpan(start, end - start + pad), fileOffset);
                }
                else
                {
                    // A segment's last write, once a batch moves on to the next: its page's tail apart.
                    RandomAccess.Write(segment.Handle, store._buffer.AsSpan(start, end - start), fileOffset);
                    if (pad > 0)
                    {
                        RandomAccess.Write(segment.Handle, new byte[pad], fileEnd);
                    }
                }
            }
            foreach (var (segment, _, _, _) in _chunks)
            {
                DataSync.Flush(segment.Handle);
            }
        }
    }
}
