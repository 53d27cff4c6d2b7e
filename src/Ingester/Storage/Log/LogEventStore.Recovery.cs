using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Opening the log: every segment is read in order, up to its first record that is not whole (a
/// write a crash tore; nothing after it was acknowledged). Its events make the open jobs and the
/// counts, its acknowledgements end jobs, and claims the dedup index's runs do not cover go back into
/// it. Writing then starts in a new segment, never after a torn tail. A segment without one whole
/// record (a spare zeroed ahead, or a first write torn) is deleted.
/// </summary>
public sealed partial class LogEventStore
{
    /// <summary>Returns the seq the next new segment gets.</summary>
    private long Recover()
    {
        foreach (var leftover in Directory.EnumerateFiles(_directory, "*.zeroing"))
        {
            File.Delete(leftover);
        }
        var files = Directory.EnumerateFiles(_directory, "*" + Segment.Suffix)
            .Select(f => (Path: f, Seq: Segment.SeqOf(f)))
            .Where(f => f.Seq is not null)
            .OrderBy(f => f.Seq)
            .ToList();
        var now = Time.GetUtcNow();
        // One string per flow name, not one per job read back: a backlog of a million jobs names a handful of flows.
        var flowNames = new Dictionary<string, string>(StringComparer.Ordinal);
        long last = 0;
        foreach (var (path, seq) in files)
        {
            last = seq!.Value;
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var segment = new Segment(seq.Value, path, handle, RandomAccess.GetLength(handle));
            var covered = _dedup.Covered.GetValueOrDefault(segment.Name);
            var records = 0;
            foreach (var (offset, memory) in SegmentReader.Records(handle, segment.Size))
            {
                records++;
                var record = memory.Span;
                segment.End = offset + record.Length;
                if (LogRecord.KindOf(record) == LogRecord.Ack)
                {
                    var jobs = LogRecord.ReadAck(record, out var written);
                    segment.Touched(written);
                    // Ended as the log is read (and their lists compacted as they go), so reading a long log back
                    // needs memory for the open jobs, not for every job it ever held.
                    foreach (var job in jobs)
                    {
                        _jobs.End(job);
                    }
                    continue;
                }
                var e = LogRecord.ReadEvent(record, withPayload: false);
                segment.Counted(e.Tenant, e.Endpoint, e.ReceivedAt);
                for (var flow = 0; flow < e.Flows.Length; flow++)
                {
                    var name = e.Flows[flow];
                    if (!flowNames.TryGetValue(name, out var shared))
                    {
                        flowNames[name] = shared = name;
                    }
                    _jobs.Add(new OpenJob(new JobKey(segment.Seq, offset, flow), segment, record.Length, e.Uuid, shared));
                }
                if (offset + 1L > covered && !new DedupEntry(default, e.Uuid).ExpiredAt(now, Options.DedupWindow))
                {
                    _dedup.Add(DedupHash.Of(e.Tenant, e.Endpoint, e.DedupKey), e.Uuid, segment.Name, offset + 1L);
                }
            }
            if (records == 0)
            {
                segment.Dispose();
                File.Delete(path);
                continue;
            }
            _segments[segment.Seq] = segment;
        }
        return last + 1;
    }
}
