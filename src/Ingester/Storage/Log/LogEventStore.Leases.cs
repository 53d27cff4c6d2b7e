using System.Text;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Leases, in a <see cref="LeaseBook{TKey, TJob}"/>: its cursors walk the open jobs in log order. A
/// leased job's event is read from its segment then, with one positional read.
/// </summary>
public sealed partial class LogEventStore
{
    private readonly LeaseBook<JobKey, OpenJob> _leases = new(j => j.Key, j => j.Flow);

    public override async Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (max <= 0 || flows is { Count: 0 })
        {
            return [];
        }
        await _leases.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Orphans need nothing more: retention already ended their jobs with their segment.
            return _leases.Lease(flows, max, Time.GetUtcNow(), lease, (after, limit) => NextJobs(flows, after, limit), Load, orphans: []);
        }
        finally
        {
            _leases.Gate.Release();
        }
    }

    private List<OpenJob> NextJobs(IReadOnlySet<string>? flows, JobKey after, int limit)
    {
        lock (_gate)
        {
            return _jobs.Page(flows, after, limit);
        }
    }

    private LeasedJob? Load(OpenJob job, int handedOut, DateTimeOffset until)
    {
        Segment? segment;
        lock (_gate)
        {
            segment = _jobs.IsOpen(job) ? _segments.GetValueOrDefault(job.Key.Segment) : null;
        }
        if (segment is null || ReadEvent(job, segment) is not { } e)
        {
            // Acknowledged meanwhile, or its segment was dropped by retention: nothing left to deliver.
            return null;
        }
        var eventId = EventIds.Of(e.Uuid);
        return new LeasedJob(LeasedJob.IdOf(eventId, job.Flow), eventId, job.Flow, e.Tenant, e.Endpoint, e.EventType, e.ReceivedAt,
            Encoding.UTF8.GetString(e.HeadersJson!), e.Body!, handedOut, until);
    }

    private static LoggedEvent? ReadEvent(OpenJob job, Segment segment)
    {
        if (segment.Dropped)
        {
            return null;
        }
        var record = new byte[job.Length];
        try
        {
            var read = 0;
            while (read < record.Length)
            {
                var n = RandomAccess.Read(segment.Handle, record.AsSpan(read), job.Key.Offset + (long)read);
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
        await _leases.ReleaseAsync(jobIds, cancellationToken).ConfigureAwait(false);
        JobsReady.Notify();
    }

    public override async Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        var keys = new List<object>(jobIds.Count);
        await _leases.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var acked = _leases.Ack(jobIds);
            lock (_gate)
            {
                // Done only once the acknowledgement is in the log: until then a checkpoint counts them open.
                keys.AddRange(acked.Where(_jobs.TryAck).Cast<object>());
            }
        }
        finally
        {
            _leases.Gate.Release();
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
