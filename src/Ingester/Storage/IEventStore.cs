namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Where verified webhooks are kept until the egress has taken them: durable append with
/// deduplication, one delivery job per matching flow, leases on those jobs, and retention that drops
/// whole time partitions. SQLite in the data directory for one ingester; PostgreSQL for several.
/// </summary>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>Where the events are, for status: a file path or a database name.</summary>
    string Location { get; }

    /// <summary>Events handed over and not yet committed: what backpressure is measured by.</summary>
    int Pending { get; }

    /// <summary>Whether the store can write now; when not, why and since when (/healthz).</summary>
    StoreHealth Health { get; }

    /// <summary>
    /// Completes once the event and its jobs are durably stored, or it is found to be a redelivery of
    /// one that is; fails with <see cref="StoreUnavailableException"/> when nothing could be stored.
    /// </summary>
    Task<StoredEvent> AppendAsync(IncomingEvent incoming);

    /// <summary>
    /// Up to <paramref name="max"/> jobs of <paramref name="flows"/> (null: every flow) that nobody holds,
    /// each leased for <paramref name="lease"/>: a job not acknowledged by then is handed out again.
    /// </summary>
    Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Ends jobs for good (the egress holds them durably now); unknown ids are ignored. Returns how many were known.</summary>
    Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken);

    /// <summary>Gives jobs back before their lease runs out (their subscriber went away): they are handed out again at once.</summary>
    Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken);

    /// <summary>Completes when new jobs may be ready, or after <paramref name="atMost"/> (a lease may have run out meanwhile).</summary>
    Task WaitForJobsAsync(TimeSpan atMost, CancellationToken cancellationToken);

    /// <summary>Drops the partitions of events older than the retention, with their jobs, and forgets expired dedup keys.</summary>
    Task<RetentionResult> ExpireAsync(CancellationToken cancellationToken);

    /// <summary>How long each commit of events (one batch, fsync included) took.</summary>
    ZenMesh.Metrics.LatencyHistogram Commits { get; }

    /// <summary>Jobs not yet acknowledged (status, metrics).</summary>
    long OpenJobs { get; }

    /// <summary>How many events are stored for an endpoint (status, tests).</summary>
    long Count(string tenant, string endpoint);

    /// <summary>The stored body of an event, or null (expired or unknown).</summary>
    byte[]? Body(string eventId);
}
