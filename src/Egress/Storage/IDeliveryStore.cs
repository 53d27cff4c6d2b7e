using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Replays;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// The egress's own durable record of its deliveries: a job is acknowledged to the ingester only
/// after <see cref="RecordAsync"/> has committed it, and its due time, attempts and end state live
/// here, so a restart loses nothing and resumes every timer.
/// </summary>
public interface IDeliveryStore : IAsyncDisposable
{
    string Location { get; }

    /// <summary>
    /// Records the jobs, due at once, each with its ordering key (null: no order); a job already known (a hand-out
    /// repeated) is left as it is. Returns how many were new.
    /// </summary>
    Task<int> RecordAsync(IReadOnlyList<DeliveryJob> jobs, Func<DeliveryJob, string?> orderingKey, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// A flow's pending deliveries due by <paramref name="now"/>, earliest first, at most <paramref name="max"/>, skipping
    /// <paramref name="skip"/> (in flight). A delivery with an ordering key is due only when no older pending delivery has the same key.
    /// A store shared by several egress instances claims what it returns for <paramref name="claim"/>: no other instance gets it
    /// until the attempt is finished, the claim released, or the claim has lapsed (its holder died).
    /// </summary>
    Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, TimeSpan claim, CancellationToken cancellationToken);

    /// <summary>Gives back claimed deliveries that were not attempted (the lane paused or stopped first), so no other instance waits out their claim.</summary>
    Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken);

    /// <summary>When the flow's next pending delivery is due (one not waiting behind an older one with its ordering key), or null when it has none.</summary>
    Task<DateTimeOffset?> NextDueAsync(string tenant, string flow, CancellationToken cancellationToken);

    /// <summary>Adds the attempt to the log and moves the delivery on, in one transaction.</summary>
    Task FinishAttemptAsync(AttemptResult result, CancellationToken cancellationToken);

    Task<IReadOnlyList<(long Seq, Delivery Delivery)>> QueryAsync(DeliveryQuery query, CancellationToken cancellationToken);

    Task<Delivery?> GetAsync(string jobId, CancellationToken cancellationToken);

    Task<IReadOnlyList<Attempt>> AttemptsAsync(string jobId, CancellationToken cancellationToken);

    /// <summary>How many deliveries are in each state, per flow "{tenant}/{flow}".</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>> CountsAsync(CancellationToken cancellationToken);

    Task HoldAsync(DeliveryHold hold, CancellationToken cancellationToken);

    /// <summary>Ends a hold and makes the flow's pending deliveries due at <paramref name="now"/>; false when the flow was not held.</summary>
    Task<bool> ResumeAsync(string tenant, string flow, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<DeliveryHold>> HoldsAsync(CancellationToken cancellationToken);

    /// <summary>How many deliveries wait (pending), per flow "{tenant}/{flow}": the queue depth, cheap enough for every scrape.</summary>
    Task<IReadOnlyDictionary<string, long>> PendingAsync(CancellationToken cancellationToken);

    /// <summary>How many deliveries match, per flow "{tenant}/{flow}" and state (paging fields ignored).</summary>
    Task<IReadOnlyList<(string Flow, string State, long Count)>> CountAsync(DeliveryQuery query, CancellationToken cancellationToken);

    /// <summary>Stores a new running replay of what matches <paramref name="filter"/> now: its extent and count are fixed here, so deliveries arriving later are not replayed.</summary>
    Task<Replay> CreateReplayAsync(string id, DeliveryQuery filter, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Queues the replay's next <paramref name="max"/> deliveries again (due at <paramref name="now"/>, horizon restarted, attempts
    /// kept) and moves its cursor, in one transaction; returns the replay after it and the flows touched. A replay no longer running is returned unchanged.
    /// </summary>
    Task<(Replay Replay, IReadOnlyList<(string Tenant, string Flow)> Flows)> ReplayBatchAsync(string id, int max, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Stops the replay and returns the deliveries it queued that have not been attempted since to the state they had; null when there is no such replay.</summary>
    Task<Replay?> CancelReplayAsync(string id, DateTimeOffset now, CancellationToken cancellationToken);

    Task<Replay?> GetReplayAsync(string id, CancellationToken cancellationToken);

    /// <summary>Every replay, newest first.</summary>
    Task<IReadOnlyList<Replay>> ReplaysAsync(CancellationToken cancellationToken);
}
