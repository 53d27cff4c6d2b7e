using System.Collections.Immutable;

namespace ZenMesh.XdsServer.Model;

/// <summary>
/// Everything operators declared, for every tenant, immutable and swapped whole. Keys are
/// "{tenant}/{name}"; a tenant's resources only ever refer to the same tenant's.
/// </summary>
public sealed record DesiredState
{
    public static readonly DesiredState Empty = new();

    public ImmutableSortedDictionary<string, Edge> Edges { get; init; } = ImmutableSortedDictionary<string, Edge>.Empty.WithComparers(StringComparer.Ordinal);
    public ImmutableSortedDictionary<string, Endpoint> Endpoints { get; init; } = ImmutableSortedDictionary<string, Endpoint>.Empty.WithComparers(StringComparer.Ordinal);
    public ImmutableSortedDictionary<string, Target> Targets { get; init; } = ImmutableSortedDictionary<string, Target>.Empty.WithComparers(StringComparer.Ordinal);
    public ImmutableSortedDictionary<string, Flow> Flows { get; init; } = ImmutableSortedDictionary<string, Flow>.Empty.WithComparers(StringComparer.Ordinal);

    public static string Key(string tenant, string name) => $"{tenant}/{name}";

    public static (string Tenant, string Name) Split(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return (key[..slash], key[(slash + 1)..]);
    }

    public object? Find(ResourceKind kind, string tenant, string name) => kind switch
    {
        ResourceKind.Edge => Edges.GetValueOrDefault(Key(tenant, name)),
        ResourceKind.Endpoint => Endpoints.GetValueOrDefault(Key(tenant, name)),
        ResourceKind.Target => Targets.GetValueOrDefault(Key(tenant, name)),
        _ => Flows.GetValueOrDefault(Key(tenant, name)),
    };

    public DesiredState With(ResourceKind kind, string tenant, string name, object spec) => kind switch
    {
        ResourceKind.Edge => this with { Edges = Edges.SetItem(Key(tenant, name), (Edge)spec) },
        ResourceKind.Endpoint => this with { Endpoints = Endpoints.SetItem(Key(tenant, name), (Endpoint)spec) },
        ResourceKind.Target => this with { Targets = Targets.SetItem(Key(tenant, name), (Target)spec) },
        _ => this with { Flows = Flows.SetItem(Key(tenant, name), (Flow)spec) },
    };

    public DesiredState Without(ResourceKind kind, string tenant, string name) => kind switch
    {
        ResourceKind.Edge => this with { Edges = Edges.Remove(Key(tenant, name)) },
        ResourceKind.Endpoint => this with { Endpoints = Endpoints.Remove(Key(tenant, name)) },
        ResourceKind.Target => this with { Targets = Targets.Remove(Key(tenant, name)) },
        _ => this with { Flows = Flows.Remove(Key(tenant, name)) },
    };

    /// <summary>The names of resources of <paramref name="tenant"/> of one kind.</summary>
    public IEnumerable<(string Name, object Spec)> List(ResourceKind kind, string tenant)
    {
        IEnumerable<KeyValuePair<string, object>> all = kind switch
        {
            ResourceKind.Edge => Edges.Select(e => KeyValuePair.Create(e.Key, (object)e.Value)),
            ResourceKind.Endpoint => Endpoints.Select(e => KeyValuePair.Create(e.Key, (object)e.Value)),
            ResourceKind.Target => Targets.Select(e => KeyValuePair.Create(e.Key, (object)e.Value)),
            _ => Flows.Select(e => KeyValuePair.Create(e.Key, (object)e.Value)),
        };
        var prefix = tenant + "/";
        return all.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal)).Select(e => (e.Key[prefix.Length..], e.Value));
    }
}
