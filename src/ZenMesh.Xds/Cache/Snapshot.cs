using System.Collections.Immutable;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Cache;

/// <summary>
/// The complete, immutable config for a node (or for every node): resources by type, each type
/// with its content version. Build with <see cref="Create"/>; publish through the cache, which
/// refuses an inconsistent snapshot.
/// </summary>
public sealed class Snapshot
{
    public static readonly Snapshot Empty = new(ImmutableDictionary<string, TypeSnapshot>.Empty, "empty");

    private Snapshot(ImmutableDictionary<string, TypeSnapshot> types, string source)
    {
        Types = types;
        Source = source;
        Version = ContentHash.OfEntries(types.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => (t.Key, t.Value.Version)));
    }

    public ImmutableDictionary<string, TypeSnapshot> Types { get; }

    /// <summary>Version of the snapshot as a whole (changes when any type changes).</summary>
    public string Version { get; }

    /// <summary>Where the snapshot came from, for logs and status (a file path, "flow-api", ...).</summary>
    public string Source { get; }

    /// <summary>Counts per type in push order, e.g. "CDS=2, EDS=2, LDS=1, RDS=1".</summary>
    public string Summary => string.Join(", ", Types.OrderBy(t => TypeUrls.Rank(t.Key)).Select(t => $"{TypeUrls.ShortName(t.Key)}={t.Value.Resources.Count}"));

    public TypeSnapshot Get(string typeUrl) => Types.GetValueOrDefault(typeUrl) ?? TypeSnapshot.Empty;

    /// <summary>
    /// Builds a snapshot. Duplicate names of one type are an error (a response must never carry the
    /// same name twice); the caller gets every duplicate, not just the first.
    /// </summary>
    public static Snapshot Create(IEnumerable<XdsResource> resources, string source = "api")
    {
        var byType = new Dictionary<string, ImmutableSortedDictionary<string, XdsResource>.Builder>(StringComparer.Ordinal);
        var duplicates = new List<string>();
        foreach (var r in resources)
        {
            if (!byType.TryGetValue(r.TypeUrl, out var builder))
            {
                builder = ImmutableSortedDictionary.CreateBuilder<string, XdsResource>(StringComparer.Ordinal);
                byType[r.TypeUrl] = builder;
            }
            if (!builder.TryAdd(r.Name, r))
            {
                duplicates.Add($"{TypeUrls.ShortName(r.TypeUrl)} '{r.Name}'");
            }
        }
        if (duplicates.Count > 0)
        {
            throw new ArgumentException($"Each resource name may appear once per type; duplicated: {string.Join(", ", duplicates)}. Rename or remove the copies.", nameof(resources));
        }
        return new Snapshot(byType.ToImmutableDictionary(t => t.Key, t => new TypeSnapshot(t.Value.ToImmutable())), source);
    }
}
