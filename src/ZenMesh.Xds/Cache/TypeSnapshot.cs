using System.Collections.Concurrent;
using System.Collections.Immutable;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Cache;

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
    private const int ChangeCacheLimit = 16;
    private readonly ConcurrentDictionary<TypeSnapshot, (IReadOnlyList<XdsResource> Changed, IReadOnlyList<string> Removed)> _changes = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// What differs from an older snapshot of the same type: resources added or changed, names
    /// removed. Computed once per pair, then shared by every stream that moves from one to the other.
    /// </summary>
    public (IReadOnlyList<XdsResource> Changed, IReadOnlyList<string> Removed) ChangesSince(TypeSnapshot older)
    {
        if (_changes.TryGetValue(older, out var cached))
        {
            return cached;
        }
        var changed = Resources.Values.Where(r => older.Find(r.Name)?.Version != r.Version).ToList();
        var removed = older.Resources.Keys.Where(n => !Resources.ContainsKey(n)).ToList();
        if (_changes.Count < ChangeCacheLimit)
        {
            _changes.TryAdd(older, (changed, removed));
        }
        return (changed, removed);
    }
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
