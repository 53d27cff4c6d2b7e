namespace ZenMesh.Ingester.Handoff;

/// <summary>The hand-off to egresses, counted: open subscriptions, jobs leased, acknowledgements (known, and for jobs no longer held here).</summary>
public sealed class HandoffCounters
{
    private long _subscribers, _leased, _acked, _unknownAcks;

    public long Subscribers => Interlocked.Read(ref _subscribers);
    public long LeasedTotal => Interlocked.Read(ref _leased);
    public long AckedTotal => Interlocked.Read(ref _acked);
    public long UnknownAcksTotal => Interlocked.Read(ref _unknownAcks);

    public void Subscribed(int delta) => Interlocked.Add(ref _subscribers, delta);

    public void Leased(int count) => Interlocked.Add(ref _leased, count);

    public void Acked(int known, int unknown)
    {
        Interlocked.Add(ref _acked, known);
        Interlocked.Add(ref _unknownAcks, unknown);
    }
}
