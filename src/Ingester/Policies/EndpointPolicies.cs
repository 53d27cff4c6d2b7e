using System.Collections.Immutable;
using ZenMesh.Contracts.V1;

namespace ZenMesh.Ingester.Policies;

/// <summary>
/// The endpoints this ingester serves, by "{tenant}/{endpoint}", swapped whole when config arrives
/// (over xDS from the agent or the control plane). Requests read a snapshot; nothing on the request
/// path ever calls the control plane.
/// </summary>
public sealed class EndpointPolicies
{
    private volatile ImmutableDictionary<string, ActiveEndpoint> _byKey = ImmutableDictionary<string, ActiveEndpoint>.Empty.WithComparers(StringComparer.Ordinal);

    public ActiveEndpoint? Find(string tenant, string endpoint) => _byKey.GetValueOrDefault($"{tenant}/{endpoint}");

    public int Count => _byKey.Count;

    public void Replace(IEnumerable<EndpointPolicy> policies) =>
        _byKey = policies.ToImmutableDictionary(p => $"{p.Tenant}/{p.Endpoint}", ActiveEndpoint.Of, StringComparer.Ordinal);
}
