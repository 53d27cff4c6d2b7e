namespace ZenMesh.Ingester.Handoff;

/// <summary>The hand-off to egresses, counted: open subscriptions (and those at their unacknowledged limit), jobs leased, acknowledgements (known, and for jobs no longer held here).</summary>
public sealed class HandoffCounters
{
    private long _subscribers, _atLimit, _leased, _acked, _unknownAcks;

    public long Subscribers => Interlocked.Read(ref _subscribers);

    /// <summary>Subscribers holding as many unacknowledged jobs as they asked for, so handed nothing more until they acknowledge.</summary>
    public long SubscribersAtLimit => Interlocked.Read(ref _atLimit);
    public long LeasedTotal => Interlocked.Read(ref _leased);
    public long AckedTotal => Interlocked.Read(ref _acked);
    public long UnknownAcksTotal => Interlocked.Read(ref _unknownAcks);

    public void Subscribed(int delta) => Interlocked.Add(ref _subscribers, delta);

    public void AtLimit(int delta) => Interlocked.Add(ref _atLimit, delta);

    public void Leased(int count) => Interlocked.Add(ref _leased, count);

    public void Acked(int known, int unknown)
    {
        Interlocked.Add(ref _acked, known);
        Interlocked.Add(ref _unknownAcks, unknown);
    }
}
