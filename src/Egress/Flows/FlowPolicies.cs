using System.Collections.Frozen;
using ZenMesh.Contracts.V1;
using ZenMesh.Flows;

namespace ZenMesh.Egress.Flows;

/// <summary>
/// The flows this egress delivers, by "{tenant}/{flow}", as last received over xDS (or from the
/// last-known-good copy). Replaced whole; readers see one consistent set.
/// </summary>
public sealed partial class FlowPolicies(ILogger<FlowPolicies> logger)
{
    private volatile Set _set = new(FrozenDictionary<string, FlowPolicy>.Empty, FrozenDictionary<string, OrderingKey>.Empty);

    private sealed record Set(FrozenDictionary<string, FlowPolicy> Flows, FrozenDictionary<string, OrderingKey> Ordering);

    /// <summary>Raised after every replacement, with the new set.</summary>
    public event Action<IReadOnlyDictionary<string, FlowPolicy>>? Changed;

    public static string Key(string tenant, string flow) => $"{tenant}/{flow}";

    public IReadOnlyDictionary<string, FlowPolicy> All => _set.Flows;

    public int Count => _set.Flows.Count;

    public FlowPolicy? Find(string tenant, string flow) => _set.Flows.GetValueOrDefault(Key(tenant, flow));

    /// <summary>The flow's ordering key, or null when the flow delivers without order.</summary>
    public OrderingKey? OrderingOf(string tenant, string flow) => _set.Ordering.GetValueOrDefault(Key(tenant, flow));

    public void Replace(IEnumerable<FlowPolicy> flows)
    {
        var set = flows.ToFrozenDictionary(f => Key(f.Tenant, f.Flow), StringComparer.Ordinal);
        var ordering = new Dictionary<string, OrderingKey>(StringComparer.Ordinal);
        foreach (var (key, policy) in set)
        {
            if (OrderingKey.Parse(policy.OrderingKey, out var problem) is { } parsed)
            {
                ordering[key] = parsed;
            }
            else if (problem is not null)
            {
                // A control plane older than the orderingKey check let it through. Order was asked for; keeping more order than asked costs throughput, keeping less breaks a promise.
                ordering[key] = OrderingKey.Parse(OrderingKey.WholeFlow, out _)!;
                Log.BadOrderingKey(logger, key, problem);
            }
        }
        _set = new Set(set, ordering.ToFrozenDictionary(StringComparer.Ordinal));
        Changed?.Invoke(set);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6300, Level = LogLevel.Warning, Message = "flow {Flow}: orderingKey {Problem} The whole flow is delivered in order instead until its config is fixed.")]
        public static partial void BadOrderingKey(ILogger logger, string flow, string problem);
    }
}
