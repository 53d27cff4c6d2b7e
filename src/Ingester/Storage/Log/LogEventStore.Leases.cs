using System.Text;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Leases live in memory, as in the SQLite store: a restart ends them all, which only means the jobs
/// are handed out again with the same ids. A cursor per subscription filter walks the open jobs in
/// log order; a lease that runs out, or is given back, puts its job on the redo list, served first.
/// A leased job's event is read from its segment then, with one positional read.
/// </summary>
public sealed partial class LogEventStore
{
    private readonly SemaphoreSlim _leaseLock = new(1, 1);
    private readonly Dictionary<string, JobKey> _cursors = new(StringComparer.Ordinal);
    private readonly Dictionary<JobKey, (OpenJob Job, DateTimeOffset Until)> _held = [];
    private readonly SortedDictionary<JobKey, OpenJob> _redo = [];
    private readonly Dictionary<string, OpenJob> _leased = new(StringComparer.Ordinal);

    public override async Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        var leased = new List<LeasedJob>();
        if (max <= 0 || flows is { Count: 0 })
        {
            return leased;
        }
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = Time.GetUtcNow();
            foreach (var (key, held) in _held.Where(h => h.Value.Until <= now).ToList())
            {
                _held.Remove(key);
                _redo[key] = held.Job;
            }
            foreach (var job in _redo.Values.Where(j => flows is null || flows.Contains(j.Flow)).Take(max).ToList())
            {
                _redo.Remove(job.Key);
                Take(job, now + lease, leased);
            }
            var filter = flows is null ? "*" : string.Join('\n', flows.Order(StringComparer.Ordinal));
            var cursor = _cursors.GetValueOrDefault(filter);
            while (leased.Count < max)
            {
                var page = NextJobs(flows, cursor, Math.Max(64, max - leased.Count));
                if (page.Count == 0)
                {
                    break;
                }
                foreach (var job in page)
                {
                    if (leased.Count >= max)
                    {
                        break;
                    }
                    cursor = job.Key;
                    // Another filter's cursor may have handed it out already.
                    if (!_held.ContainsKey(job.Key) && !_redo.ContainsKey(job.Key))
                    {
                        Take(job, now + lease, leased);
                    }
                }
            }
            _cursors[filter] = cursor;
        }
        finally
        {
            _leaseLock.Release();
        }
        return leased;
    }

    private List<OpenJob> NextJobs(IReadOnlySet<string>? flows, JobKey after, int limit)
    {
        var page = new List<OpenJob>(limit);
        lock (_gate)
        {
            for (var i = IndexAfter(after, inclusive: false); i < _jobs.Count && page.Count < limit; i++)
            {
                var job = _jobs[i];
                if (!job.Done && (flows is null || flows.Contains(job.Flow)))
                {
                    page.Add(job);
                }
            }
        }
        return page;
    }

    private void Take(OpenJob job, DateTimeOffset until, List<LeasedJob> leased)
    {
        if (job.Done || ReadEvent(job) is not { } e)
        {
            // Acknowledged meanwhile, or its segment was dropped by retention: nothing left to deliver.
            _leased.Remove(job.JobId);
            return;
        }
        job.HandedOut++;
        _held[job.Key] = (job, until);
        var jobId = LeasedJob.IdOf(EventIds.Of(e.Uuid), job.Flow);
        _leased[jobId] = job;
        leased.Add(new LeasedJob(jobId, EventIds.Of(e.Uuid), job.Flow, e.Tenant, e.Endpoint, e.EventType, e.ReceivedAt,
            Encoding.UTF8.GetString(e.HeadersJson!), e.Body!, job.HandedOut, until));
    }

    private static LoggedEvent? ReadEvent(OpenJob job)
    {
        if (job.Segment.Dropped)
        {
            return null;
        }
        var record = new byte[job.Length];
        try
        {
            var read = 0;
            while (read < record.Length)
            {
                var n = RandomAccess.Read(job.Segment.Handle, record.AsSpan(read), job.Key.Offset + (long)read);
                if (n == 0)
                {
                    return null;
                }
                read += n;
            }
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        return LogRecord.IsWhole(record) ? LogRecord.ReadEvent(record, withPayload: true) : null;
    }

    public override async Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var id in jobIds)
            {
                if (_leased.TryGetValue(id, out var job) && _held.Remove(job.Key))
                {
                    _redo[job.Key] = job;
                }
            }
        }
        finally
        {
            _leaseLock.Release();
        }
        JobsReady.Notify();
    }

    public override async Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        var keys = new List<object>(jobIds.Count);
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                foreach (var id in jobIds)
                {
                    if (_leased.Remove(id, out var job))
                    {
                        _held.Remove(job.Key);
                        _redo.Remove(job.Key);
                        if (!job.Done)
                        {
                            job.Done = true;
                            _doneInJobs++;
                            keys.Add(job.Key);
                        }
                    }
                }
                Compact();
            }
        }
        finally
        {
            _leaseLock.Release();
        }
        if (keys.Count > 0)
        {
            AddOpenJobs(-keys.Count);
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await Enqueue(new AckJobs(keys, done), done.Task).ConfigureAwait(false);
        }
        return keys.Count;
    }
}
