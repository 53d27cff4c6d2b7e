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
                    foreach (var job in jobs)
                    {
                        MarkDone(job);
                    }
                    // As it goes, so that reading a long log back needs memory for the open jobs, not for every job it ever held.
                    Compact();
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
        Compact();
        return last + 1;
    }

    /// <summary>Marks a job done, found by its key in the open jobs (kept in log order); unknown keys are ignored. Holds or needs <see cref="_gate"/>.</summary>
    private OpenJob? MarkDone(JobKey key)
    {
        var at = IndexAfter(key, inclusive: true);
        if (at < _jobs.Count && _jobs[at].Key == key && !_jobs[at].Done)
        {
            _jobs[at].Done = true;
            _doneInJobs++;
            return _jobs[at];
        }
        return null;
    }

    /// <summary>The index of the first open job at (inclusive) or after <paramref name="key"/>.</summary>
    private int IndexAfter(JobKey key, bool inclusive)
    {
        int low = 0, high = _jobs.Count;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            var c = _jobs[mid].Key.CompareTo(key);
            if (c < 0 || (c == 0 && !inclusive))
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }
        return low;
    }

    /// <summary>Drops done jobs from the list once they are half of it, so scans stay short and the list stays small.</summary>
    private void Compact()
    {
        if (_doneInJobs > 0 && _doneInJobs * 2 >= _jobs.Count)
        {
            _jobs.RemoveAll(j => j.Done);
            _doneInJobs = 0;
        }
    }
}
