using System.Collections.Frozen;
using ZenMesh.Contracts.V1;

namespace ZenMesh.Egress.Flows;

/// <summary>
/// The flows this egress delivers, by "{tenant}/{flow}", as last received over xDS (or from the
/// last-known-good copy). Replaced whole; readers see one consistent set.
/// </summary>
public sealed class FlowPolicies
{
    private volatile FrozenDictionary<string, FlowPolicy> _flows = FrozenDictionary<string, FlowPolicy>.Empty;

    /// <summary>Raised after every replacement, with the new set.</summary>
    public event Action<IReadOnlyDictionary<string, FlowPolicy>>? Changed;

    public static string Key(string tenant, string flow) => $"{tenant}/{flow}";

    public IReadOnlyDictionary<string, FlowPolicy> All => _flows;

    public int Count => _flows.Count;

    public FlowPolicy? Find(string tenant, string flow) => _flows.GetValueOrDefault(Key(tenant, flow));

    public void Replace(IEnumerable<FlowPolicy> flows)
    {
        var set = flows.ToFrozenDictionary(f => Key(f.Tenant, f.Flow), StringComparer.Ordinal);
        _flows = set;
        Changed?.Invoke(set);
    }
}
