using System.Collections.Concurrent;

namespace ZenMesh.XdsServer.Evidence;

/// <summary>
/// How many ACK and NACK entries one edge may add to the ledger: a burst of <see cref="Burst"/>,
/// then one per <see cref="Refill"/> (a token bucket on the injected clock). An edge that NACKs in
/// a loop cannot fill the ledger or delay other edges' entries; what was left out is counted and
/// said in the edge's next entry.
/// </summary>
public sealed class LedgerRateLimit(TimeProvider time)
{
    public const int Burst = 30;
    public static readonly TimeSpan Refill = TimeSpan.FromSeconds(2);

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    private sealed class Bucket
    {
        public double Tokens = Burst;
        public DateTimeOffset At;
        public long Dropped;
    }

    /// <summary>True when <paramref name="node"/> may add an entry now; <paramref name="dropped"/> says how many it was refused since its last.</summary>
    public bool TryTake(string node, out long dropped)
    {
        var now = time.GetUtcNow();
        var bucket = _buckets.GetOrAdd(node, _ => new Bucket { At = now });
        lock (bucket)
        {
            bucket.Tokens = Math.Min(Burst, bucket.Tokens + ((now - bucket.At) / Refill));
            bucket.At = now;
            if (bucket.Tokens < 1)
            {
                bucket.Dropped++;
                dropped = 0;
                return false;
            }
            bucket.Tokens--;
            dropped = bucket.Dropped;
            bucket.Dropped = 0;
            return true;
        }
    }
}
