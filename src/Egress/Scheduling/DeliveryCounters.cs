using System.Collections.Concurrent;
using ZenMesh.Metrics;

namespace ZenMesh.Egress.Scheduling;

/// <summary>Attempts by flow and outcome, and their latency, for /metrics and /status.</summary>
public sealed class DeliveryCounters
{
    private readonly ConcurrentDictionary<(string Flow, string Outcome), long> _attempts = new();
    private long _dead;

    public LatencyHistogram Latency { get; } = new();

    public long Dead => Interlocked.Read(ref _dead);

    public void Count(string flow, string outcome, double latencyMs, bool dead)
    {
        _attempts.AddOrUpdate((flow, outcome), 1, (_, n) => n + 1);
        Latency.Observe(TimeSpan.FromMilliseconds(latencyMs));
        if (dead)
        {
            Interlocked.Increment(ref _dead);
        }
    }

    public IReadOnlyList<(string Flow, string Outcome, long Count)> Attempts() =>
        [.. _attempts.OrderBy(a => a.Key.Flow, StringComparer.Ordinal).ThenBy(a => a.Key.Outcome, StringComparer.Ordinal).Select(a => (a.Key.Flow, a.Key.Outcome, a.Value))];
}
