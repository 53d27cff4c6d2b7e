namespace ZenMesh.Metrics;

/// <summary>Latencies in seconds, counted into fixed buckets without locks (one Interlocked add per observation).</summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds: 0.5 ms to 10 s, dense where commits and deliveries usually land.</summary>
    public static readonly double[] Bounds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly long[] _buckets = new long[Bounds.Length + 1];
    private long _count;
    private long _sumMicros;

    public void Observe(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var i = 0;
        while (i < Bounds.Length && seconds > Bounds[i])
        {
            i++;
        }
        Interlocked.Increment(ref _buckets[i]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, (long)(elapsed.Ticks / 10));
    }

    /// <summary>Per-bucket counts (not cumulative; the last is above every bound), total count, and sum in seconds.</summary>
    public (long[] Buckets, long Count, double SumSeconds) Read()
    {
        var buckets = new long[_buckets.Length];
        for (var i = 0; i < buckets.Length; i++)
        {
            buckets[i] = Volatile.Read(ref _buckets[i]);
        }
        return (buckets, Interlocked.Read(ref _count), Interlocked.Read(ref _sumMicros) / 1e6);
    }
}
