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
}
