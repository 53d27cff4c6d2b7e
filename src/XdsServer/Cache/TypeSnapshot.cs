using System.Collections.Concurrent;
using System.Collections.Immutable;
using ZenMesh.XdsServer.Resources;

namespace ZenMesh.XdsServer.Cache;

/// <summary>All resources of one type in a snapshot, with the content version of the whole set.</summary>
public sealed class TypeSnapshot
{
    public static readonly TypeSnapshot Empty = new(ImmutableSortedDictionary<string, XdsResource>.Empty);

    public TypeSnapshot(ImmutableSortedDictionary<string, XdsResource> resources)
    {
        Resources = resources;
        Version = ContentHash.OfEntries(resources.Values.Select(r => (r.Name, r.Version)));
    }

    public ImmutableSortedDictionary<string, XdsResource> Resources { get; }

    /// <summary>Version of the whole type: what a wildcard subscriber is sent.</summary>
    public string Version { get; }

    public XdsResource? Find(string name) => Resources.GetValueOrDefault(name);

    private const int SubsetCacheLimit = 4096;
    private readonly ConcurrentDictionary<string, (ImmutableArray<XdsResource> Resources, string Version)> _subsets = new(StringComparer.Ordinal);

    /// <summary>
    /// What a subscription resolves to, computed once per snapshot and subscription: thousands of
    /// clients with the same names share one result instead of hashing it each.
    /// </summary>
    public (ImmutableArray<XdsResource> Resources, string Version) Subset(string subscriptionKey, Func<TypeSnapshot, (ImmutableArray<XdsResource>, string)> resolve)
    {
        if (ReferenceEquals(this, Empty))
        {
            return resolve(this);
        }
        if (_subsets.TryGetValue(subscriptionKey, out var cached))
        {
            return cached;
        }
        var result = resolve(this);
        if (_subsets.Count < SubsetCacheLimit)
        {
            _subsets.TryAdd(subscriptionKey, result);
        }
        return result;
    }
}
