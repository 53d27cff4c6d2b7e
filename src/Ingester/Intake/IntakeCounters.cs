using System.Collections.Concurrent;

namespace ZenMesh.Ingester.Intake;

/// <summary>Every webhook's outcome, counted: accepted, duplicate, and each rejection by reason.</summary>
public sealed class IntakeCounters
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public void Count(string outcome) => _counts.AddOrUpdate(outcome, 1, (_, n) => n + 1);

    public IReadOnlyDictionary<string, long> Snapshot() => new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);
}
