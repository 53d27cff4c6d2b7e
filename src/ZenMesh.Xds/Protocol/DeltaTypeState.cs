using System.Collections.Immutable;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>Incremental (delta) protocol state of one resource type on one stream.</summary>
internal sealed class DeltaTypeState(string typeUrl)
{
    /// <summary>In <see cref="Known"/>: the client knows the name does not exist.</summary>
    public const string Absent = "";

    /// <summary>In <see cref="Known"/>: the client must be told the name's state again, whatever it holds.</summary>
    public const string Unknown = "?";

    public string TypeUrl { get; } = typeUrl;
    public bool EverRequested { get; private set; }
    public bool Wildcard { get; private set; }
    public SortedSet<string> Explicit { get; } = new(StringComparer.Ordinal);

    /// <summary>Name -> version the client holds, as far as this stream knows (or <see cref="Absent"/> / <see cref="Unknown"/>).</summary>
    public Dictionary<string, string> Known { get; } = new(StringComparer.Ordinal);

    public string? LastSentNonce { get; private set; }
    public string? LastSentVersion { get; private set; }
    public DateTimeOffset? LastSentAt { get; private set; }
    public string? AckedVersion { get; set; }
    public NackRecord? LastNack { get; set; }
    public string DesiredVersion { get; private set; } = "";
    /// <summary>What the client holds, for status: kept up to date per sent name, rebuilt only after a full diff.</summary>
    private ImmutableSortedDictionary<string, XdsResource> _held = ImmutableSortedDictionary<string, XdsResource>.Empty.WithComparers(StringComparer.Ordinal);
    private bool _heldRebuild = true;
    private bool _namesDirty = true;
    private string? _key;

    /// <summary>The snapshot of this type the client was last brought up to; null when a full diff is due.</summary>
    private TypeSnapshot? _diffedAgainst;
    private ImmutableArray<string> _namesView = [];

    public bool Interested(string name) => Wildcard || Explicit.Contains(name);

    public void Subscribe(IEnumerable<string> subscribe, IEnumerable<string> unsubscribe, IReadOnlyDictionary<string, string>? initialVersions)
    {
        var first = !EverRequested;
        EverRequested = true;
        _key = null;
        _heldRebuild = true;
        _namesDirty = true;
        _diffedAgainst = null;
        var toSubscribe = subscribe.ToList();
        if (first && toSubscribe.Count == 0)
        {
            Wildcard = true;
        }
        foreach (var name in toSubscribe)
        {
            if (name == "*")
            {
                Wildcard = true;
                continue;
            }
            Explicit.Add(name);
            // Asked again: send it again, even if this stream believes the client has it.
            Known[name] = Unknown;
        }
        foreach (var name in unsubscribe)
        {
            if (name == "*")
            {
                Wildcard = false;
                foreach (var held in Known.Keys.Where(k => !Explicit.Contains(k)).ToList())
                {
                    Known.Remove(held);
                }
            }
            else if (Explicit.Remove(name))
            {
                if (Wildcard)
                {
                    // Still wanted through '*': the client dropped it, so it must hear of it again.
                    Known[name] = Unknown;
                }
                else
                {
                    Known.Remove(name);
                }
            }
        }
        if (first && initialVersions is not null)
        {
            foreach (var (name, version) in initialVersions)
            {
                Known[name] = version;
            }
        }
    }

    /// <summary>What must be sent for this type to bring the client to the snapshot.</summary>
    public (List<XdsResource> Updated, List<string> Removed, string Version) Diff(TypeSnapshot type)
    {
        var updated = new List<XdsResource>();
        var removed = new List<string>();
        if (!EverRequested)
        {
            return (updated, removed, "");
        }
        if (_diffedAgainst is not null)
        {
            // Incremental: only names that changed between the two snapshots can need sending.
            if (type.Version != _diffedAgainst.Version)
            {
                var (changed, gone) = type.ChangesSince(_diffedAgainst);
                updated.AddRange(changed.Where(r => Interested(r.Name) && (!Known.TryGetValue(r.Name, out var held) || held != r.Version)));
                removed.AddRange(gone.Where(n => Known.TryGetValue(n, out var held) && held != Absent));
            }
        }
        else
        {
            IEnumerable<XdsResource> candidates = Wildcard ? type.Resources.Values : Explicit.Select(type.Find).OfType<XdsResource>();
            foreach (var resource in candidates)
            {
                if (!Known.TryGetValue(resource.Name, out var held) || held != resource.Version)
                {
                    updated.Add(resource);
                }
            }
            foreach (var (name, held) in Known)
            {
                if (held != Absent && type.Find(name) is null)
                {
                    removed.Add(name);
                }
            }
        }
        // Everything found here is sent in this pass, so the next diff can start from this snapshot.
        _diffedAgainst = type;
        _key ??= $"delta|{TypeUrl}|{(Wildcard ? "*" : "")}|{string.Join('\n', Explicit)}";
        var version = type.Subset(_key, VersionOf).Version;
        DesiredVersion = version;
        return (updated, removed, version);
    }

    /// <summary>The version of what the subscription should hold: names and their resource versions.</summary>
    private (ImmutableArray<XdsResource>, string) VersionOf(TypeSnapshot type) =>
        ([], Wildcard && Explicit.All(n => type.Find(n) is not null)
            ? type.Version
            : ContentHash.OfEntries(Explicit.Union(Wildcard ? type.Resources.Keys : []).Order(StringComparer.Ordinal).Select(n => (n, type.Find(n)?.Version ?? Absent))));

    /// <summary>Resources with a TTL the client holds, and when it last heard of each.</summary>
    private readonly Dictionary<string, (XdsResource Resource, DateTimeOffset At)> _ttl = new(StringComparer.Ordinal);

    public TimeSpan? ShortestTtl => _ttl.Count == 0 ? null : _ttl.Values.Min(t => t.Resource.Ttl);

    /// <summary>Held resources with a TTL of which the client last heard half a TTL ago or more.</summary>
    public List<XdsResource> HeartbeatsDue(DateTimeOffset now) =>
        [.. _ttl.Values.Where(t => now - t.At >= t.Resource.Ttl!.Value / 2 && Known.GetValueOrDefault(t.Resource.Name) == t.Resource.Version).Select(t => t.Resource)];

    public void HeartbeatSent(string nonce, DateTimeOffset at, IEnumerable<XdsResource> beats)
    {
        foreach (var resource in beats)
        {
            _ttl[resource.Name] = (resource, at);
        }
        LastSentNonce = nonce;
    }

    public void Sent(string version, string nonce, DateTimeOffset at, IEnumerable<XdsResource> updated, IEnumerable<string> removed)
    {
        // One builder per send: a first response of hundreds of names must not copy the tree per name.
        var held = _held.ToBuilder();
        foreach (var resource in updated)
        {
            Known[resource.Name] = resource.Version;
            held[resource.Name] = resource;
            if (resource.Ttl is null)
            {
                _ttl.Remove(resource.Name);
            }
            else
            {
                _ttl[resource.Name] = (resource, at);
            }
        }
        foreach (var name in removed)
        {
            held.Remove(name);
            _ttl.Remove(name);
            if (Interested(name))
            {
                Known[name] = Absent;
            }
            else
            {
                Known.Remove(name);
            }
        }
        _held = held.ToImmutable();
        LastSentVersion = version;
        LastSentNonce = nonce;
        LastSentAt = at;
    }

    /// <summary>Nothing to send: the client already holds what it should (after a reconnect with initial versions, say).</summary>
    public void InSync(string version)
    {
        if (LastSentVersion is null)
        {
            LastSentVersion = version;
            AckedVersion = version;
        }
    }

    /// <summary>The client must hear of this name again (e.g. endpoints of a cluster that is re-warming).</summary>
    public void MarkUnknown(string name)
    {
        Known[name] = Unknown;
        _diffedAgainst = null;
        _heldRebuild = true;
    }

    public TypeView View(TypeSnapshot type)
    {
        if (_heldRebuild)
        {
            _held = type.Resources.Values.Where(r => Known.TryGetValue(r.Name, out var v) && v == r.Version).ToImmutableSortedDictionary(r => r.Name, r => r, StringComparer.Ordinal);
            _heldRebuild = false;
        }
        if (_namesDirty)
        {
            _namesView = [.. Explicit];
            _namesDirty = false;
        }
        return new(TypeUrl, Wildcard, _namesView, LastSentVersion, LastSentAt, AckedVersion, LastNack, _held.Values, DesiredVersion);
    }
}
