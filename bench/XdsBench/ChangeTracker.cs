using System.Diagnostics;

namespace ZenMesh.XdsBench;

/// <summary>
/// Shared by all simulated clients: which endpoint port marks the change under way, when each client
/// ACKed it, and how many response bytes the change cost.
/// </summary>
internal sealed class ChangeTracker(int clients)
{
    private readonly long _origin = Stopwatch.GetTimestamp();
    private readonly DateTimeOffset _originTime = DateTimeOffset.UtcNow;
    private long[] _ackedAt = new long[clients];
    private int _acked;
    private long _bytes;
    private volatile int _expectedPort = -1;

    public int ExpectedPort => _expectedPort;
    public int Acked => Volatile.Read(ref _acked);
    public long Bytes => Interlocked.Read(ref _bytes);

    public void Begin(int expectedPort)
    {
        _ackedAt = new long[clients];
        Volatile.Write(ref _acked, 0);
        Interlocked.Exchange(ref _bytes, 0);
        _expectedPort = expectedPort;
    }

    public void Received(int size) => Interlocked.Add(ref _bytes, size);

    public void AckedChange(int client)
    {
        if (Interlocked.CompareExchange(ref _ackedAt[client], Stopwatch.GetTimestamp(), 0) == 0)
        {
            Interlocked.Increment(ref _acked);
        }
    }

    /// <summary>Milliseconds from <paramref name="start"/> to each client's ACK.</summary>
    public double[] LatenciesFrom(DateTimeOffset start) =>
        [.. _ackedAt.Where(t => t != 0).Select(t => (_originTime + Stopwatch.GetElapsedTime(_origin, t) - start).TotalMilliseconds).Order()];
}
