using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Opening the log. The checkpoint, when there is a whole one, gives every segment's state and the
/// jobs open at its position; the log is read from there on. Records before it are read again only
/// for dedup claims the dedup index's runs do not hold yet (at most a run's worth). Without a
/// checkpoint every segment is read. Either way, reading stops at a segment's first record that is
/// not whole (a write a crash tore; nothing after it was acknowledged), and writing starts in a new
/// segment. A segment without one whole record (a spare zeroed ahead, or a first write torn) is deleted.
/// </summary>
public sealed partial class LogEventStore
{
    /// <summary>Returns the seq the next new segment gets.</summary>
    private long Recover()
    {
        var started = Time.GetTimestamp();
        foreach (var leftover in Directory.EnumerateFiles(_directory, "*.zeroing").Append(Path.Combine(_directory, Checkpoint.FileName + ".tmp")))
        {
            File.Delete(leftover);
        }
        var checkpoint = Checkpoint.Read(_directory, out var problem);
        if (problem is not null)
        {
            Log.CheckpointUnreadable(Logger, problem);
        }
        var states = checkpoint?.Segments.ToDictionary(s => s.Seq) ?? [];
        var files = Directory.EnumerateFiles(_directory, "*" + Segment.Suffix)
            .Select(f => (Path: f, Seq: Segment.SeqOf(f)))
            .Where(f => f.Seq is not null)
            .OrderBy(f => f.Seq)
            .ToList();
        long last = 0;
        var opened = new List<(Segment Segment, int From)>();
        foreach (var (path, seq) in files)
        {
            last = seq!.Value;
            if (checkpoint is not null && seq <= checkpoint.Seq && !states.ContainsKey(seq.Value))
            {
                // Not in the log as the checkpoint knew it: retention had dropped it (the crash came
                // before the unlink), or the batch that took it failed. Nothing acknowledged is in it.
                Log.DeletedUncheckpointed(Logger, path);
                File.Delete(path);
                continue;
            }
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var segment = new Segment(seq.Value, path, handle, RandomAccess.GetLength(handle));
            var from = 0;
            if (states.TryGetValue(seq.Value, out var state))
            {
                segment.Restore(state);
                from = state.End;
            }
            opened.Add((segment, from));
        }
        // One string per flow name, not one per job read back: a backlog of a million jobs names a handful of flows.
        var flowNames = new Dictionary<string, string>(StringComparer.Ordinal);
        // The checkpoint's jobs go in before any read after it, so each flow's list stays in log order.
        // Those of segments retention has deleted since are gone with their payloads.
        var bySeq = opened.ToDictionary(o => o.Segment.Seq, o => o.Segment);
        foreach (var (flow, jobs) in checkpoint?.Flows ?? [])
        {
            flowNames[flow] = flow;
            foreach (var job in jobs)
            {
                if (bySeq.ContainsKey(job.Key.Segment))
                {
                    _jobs.Add(flow, job.Key, job.Length);
                }
            }
        }
        var now = Time.GetUtcNow();
        var read = 0;
        long records = 0;
        foreach (var (segment, from) in opened)
        {
            var covered = _dedup.Covered.GetValueOrDefault(segment.Name);
            // The dedup runs hold this segment's claims of the records that end at or before covered.
            var claimsFrom = (int)covered;
            if (claimsFrom < from && (!segment.HasEvents || segment.Newest + Options.DedupWindow <= now))
            {
                claimsFrom = from;
            }
            var start = Math.Min(from, claimsFrom);
            var found = 0;
            foreach (var (offset, memory) in SegmentReader.Records(segment.Handle, segment.Size, start))
            {
                found++;
                var record = memory.Span;
                segment.End = Math.Max(segment.End, offset + record.Length);
                var known = offset < from;
                if (LogRecord.KindOf(record) == LogRecord.Ack)
                {
                    if (!known)
                    {
                        var jobs = LogRecord.ReadAck(record, out var written);
                        segment.Touched(written);
                        // Ended as the log is read (and their lists compacted as they go), so reading a long log back
                        // needs memory for the open jobs, not for every job it ever held.
                        foreach (var job in jobs)
                        {
                            _jobs.End(job);
                        }
                    }
                    continue;
                }
                var e = LogRecord.ReadEvent(record, withPayload: false);
                if (!known)
                {
                    segment.Counted(e.Tenant, e.Endpoint, e.ReceivedAt);
                    for (var flow = 0; flow < e.Flows.Length; flow++)
                    {
                        var name = e.Flows[flow];
                        if (!flowNames.TryGetValue(name, out var shared))
                        {
                            flowNames[name] = shared = name;
                        }
                        _jobs.Add(shared, new JobKey(segment.Seq, offset, flow), record.Length);
                    }
                }
                if (offset + record.Length > covered && !new DedupEntry(default, e.Uuid).ExpiredAt(now, Options.DedupWindow))
                {
                    _dedup.Add(DedupHash.Of(e.Tenant, e.Endpoint, e.DedupKey), e.Uuid, segment.Name, offset + record.Length);
                }
            }
            read += found > 0 ? 1 : 0;
            records += found;
            if (segment.End == 0)
            {
                segment.Dispose();
                File.Delete(segment.Path);
                continue;
            }
            _segments[segment.Seq] = segment;
        }
        Recovered = new RecoveryReport(checkpoint is not null, _segments.Count, read, records, _jobs.Count, Time.GetElapsedTime(started));
        Log.Opened(Logger, Recovered);
        return last + 1;
    }
}
