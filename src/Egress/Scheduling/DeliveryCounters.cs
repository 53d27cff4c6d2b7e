using System.Collections.Concurrent;
using ZenMesh.Metrics;

namespace ZenMesh.Egress.Scheduling;

/// <summary>Attempts by flow and outcome, their latency, and dead letters by flow and fault, for /metrics and /status.</summary>
public sealed class DeliveryCounters
{
    private readonly ConcurrentDictionary<(string Flow, string Outcome), long> _attempts = new();
    private readonly ConcurrentDictionary<(string Flow, string Fault), long> _dead = new();

    public LatencyHistogram Latency { get; } = new();

    public long Dead => _dead.Values.Sum();

    /// <param name="fault">Whose fault the last failure of a delivery that died was: "target" or "zenmesh".</param>
    public void Count(string flow, string outcome, double latencyMs, bool dead, string? fault)
    {
        _attempts.AddOrUpdate((flow, outcome), 1, (_, n) => n + 1);
        Latency.Observe(TimeSpan.FromMilliseconds(latencyMs));
        if (dead)
        {
            _dead.AddOrUpdate((flow, fault ?? "unknown"), 1, (_, n) => n + 1);
        }
    }

    public IReadOnlyList<(string Flow, string Fault, long Count)> DeadLetters() =>
        [.. _dead.OrderBy(a => a.Key.Flow, StringComparer.Ordinal).ThenBy(a => a.Key.Fault, StringComparer.Ordinal).Select(a => (a.Key.Flow, a.Key.Fault, a.Value))];

    public IReadOnlyList<(string Flow, string Outcome, long Count)> Attempts() =>
        [.. _attempts.OrderBy(a => a.Key.Flow, StringComparer.Ordinal).ThenBy(a => a.Key.Outcome, StringComparer.Ordinal).Select(a => (a.Key.Flow, a.Key.Outcome, a.Value))];
}
