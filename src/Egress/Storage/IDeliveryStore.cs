using ZenMesh.Contracts.V1;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// The egress's own durable record of its deliveries: a job is acknowledged to the ingester only
/// after <see cref="RecordAsync"/> has committed it, and its due time, attempts and end state live
/// here, so a restart loses nothing and resumes every timer.
/// </summary>
public interface IDeliveryStore : IAsyncDisposable
{
    string Location { get; }

    /// <summary>Records the jobs, due at once; a job already known (a hand-out repeated) is left as it is. Returns how many were new.</summary>
    Task<int> RecordAsync(IReadOnlyList<DeliveryJob> jobs, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>A flow's pending deliveries due by <paramref name="now"/>, earliest first, at most <paramref name="max"/>, skipping <paramref name="skip"/> (in flight).</summary>
    Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, CancellationToken cancellationToken);

    /// <summary>When the flow's next pending delivery is due, or null when it has none.</summary>
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
}
