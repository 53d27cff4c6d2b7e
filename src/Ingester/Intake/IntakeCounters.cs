using System.Collections.Concurrent;

namespace ZenMesh.Ingester.Intake;

/// <summary>Every webhook's outcome, counted: accepted, duplicate, and each rejection by reason; and how long requests waited for the store.</summary>
public sealed class IntakeCounters
{
    public static readonly IReadOnlyList<string> Stored = ["accepted", "duplicate"];

    public ZenMesh.Metrics.LatencyHistogram StoreWait { get; } = new();

    public long Get(string outcome) => _counts.GetValueOrDefault(outcome);

    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public void Count(string outcome) => _counts.AddOrUpdate(outcome, 1, (_, n) => n + 1);

    private long _bodiesBeingRead;

    /// <summary>Requests whose body is still arriving: what slow senders hold.</summary>
    public long BodiesBeingRead => Interlocked.Read(ref _bodiesBeingRead);

    internal void BodyReading(int delta) => Interlocked.Add(ref _bodiesBeingRead, delta);

    private long _bodyBytesHeld;

    /// <summary>Bytes set aside for bodies still arriving: grows with what arrived, not with what a sender announced.</summary>
    public long BodyBytesHeld => Interlocked.Read(ref _bodyBytesHeld);

    internal void BodyBytes(long delta) => Interlocked.Add(ref _bodyBytesHeld, delta);

    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);
}
