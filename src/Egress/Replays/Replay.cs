using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Replays;

/// <summary>
/// A replay by query: every delivery matching <see cref="Filter"/> that existed when it was asked
/// for (sequence up to <see cref="UpToSeq"/>) is queued again, in batches, with a fresh redelivery
/// horizon and its attempt log kept. Progress is stored with each batch, so a restart carries on
/// where it stood.
/// </summary>
/// <param name="Matched">How many deliveries matched when the replay was asked for.</param>
/// <param name="Queued">How many have been queued again so far.</param>
/// <param name="Cursor">The sequence number of the last delivery looked at.</param>
/// <param name="Withdrawn">On cancel, how many queued deliveries not yet attempted went back to the state they had.</param>
public sealed record Replay(
    string Id,
    DeliveryQuery Filter,
    long UpToSeq,
    long Matched,
    long Queued,
    long Cursor,
    string State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? FinishedAt,
    long Withdrawn);

/// <summary>Where a replay stands.</summary>
public static class ReplayStates
{
    /// <summary>Still queuing deliveries.</summary>
    public const string Running = "running";

    /// <summary>Every matching delivery has been queued; their progress is in the replay's delivery counts.</summary>
    public const string Done = "done";

    /// <summary>Stopped by request; what it had queued and not yet attempted went back to its previous state.</summary>
    public const string Cancelled = "cancelled";
}
