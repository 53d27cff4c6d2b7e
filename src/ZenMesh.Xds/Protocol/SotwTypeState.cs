using System.Collections.Immutable;
using Google.Protobuf.Collections;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>State-of-the-world protocol state of one resource type on one stream.</summary>
internal sealed class SotwTypeState(string typeUrl)
{
    public string TypeUrl { get; } = typeUrl;
    public bool EverRequested { get; private set; }

    /// <summary>The first request named nothing: the legacy wildcard, kept while the client keeps naming nothing.</summary>
    public bool LegacyWildcard { get; private set; }
    public bool Wildcard { get; private set; }
    public ImmutableSortedSet<string> Names { get; private set; } = ImmutableSortedSet<string>.Empty.WithComparer(StringComparer.Ordinal);

    /// <summary>Identifies the subscription for <see cref="TypeSnapshot.Subset"/>; changes only when the subscription does.</summary>
    private string _key = "";
    private string[] _lastRequested = [];
    private ImmutableArray<string> _namesView = [];

    /// <summary>A change is waiting to be sent (as of the last push pass).</summary>
    public bool Pending => (Wildcard || !Names.IsEmpty) && (ForceSend || DesiredVersion != LastSentVersion);

    /// <summary>A request is waiting for its response (SotW answers each request at most once).</summary>
    public bool Open { get; set; }

    /// <summary>Answer the open request even if the version did not change.</summary>
    public bool ForceSend { get; set; }

    /// <summary>The client asked for names it does not have yet (first request, or a grown subscription): answer at once.</summary>
    public bool Asked { get; set; }

    public string? LastSentVersion { get; private set; }
    public string? LastSentNonce { get; private set; }
    public DateTimeOffset? LastSentAt { get; private set; }
    public ImmutableArray<XdsResource> Held { get; private set; } = [];
    public string? AckedVersion { get; set; }
    public NackRecord? LastNack { get; set; }
    public string DesiredVersion { get; private set; } = "";

    /// <summary>Applies the names of a new request, which replaces the earlier one; true if the subscription grew.</summary>
    public bool Subscribe(RepeatedField<string> names)
    {
        // Envoy repeats its names in every ACK: the same list in the same order changes nothing.
        if (EverRequested && names.Count == _lastRequested.Length && names.SequenceEqual(_lastRequested))
        {
            return false;
        }
        _lastRequested = [.. names];
        var star = names.Contains("*");
        if (!EverRequested)
        {
            LegacyWildcard = names.Count == 0;
        }
        else if (names.Count > 0)
        {
            LegacyWildcard = false;
        }
        var wildcard = star || (names.Count == 0 && LegacyWildcard);
        var set = names.Where(n => n != "*").ToImmutableSortedSet(StringComparer.Ordinal);
        var grew = !EverRequested || (wildcard && !Wildcard) || set.Any(n => !Names.Contains(n));
        EverRequested = true;
        Wildcard = wildcard;
        Names = set;
        _key = $"sotw|{TypeUrl}|{(wildcard ? "*" : "")}|{string.Join('\n', set)}";
        _namesView = [.. set];
        return grew;
    }

    /// <summary>What this subscription should hold now, and its version.</summary>
    public (ImmutableArray<XdsResource> Resources, string Version) Resolve(TypeSnapshot type) => type.Subset(_key, ResolveUncached);

    private (ImmutableArray<XdsResource> Resources, string Version) ResolveUncached(TypeSnapshot type)
    {
        if (Wildcard && (Names.Count == 0 || Names.All(n => type.Find(n) is not null) || TypeUrl != TypeUrls.Endpoint))
        {
            return ([.. type.Resources.Values], type.Version);
        }
        var builder = ImmutableArray.CreateBuilder<XdsResource>();
        var names = Wildcard ? type.Resources.Keys.Union(Names).Order(StringComparer.Ordinal) : (IEnumerable<string>)Names;
        foreach (var name in names)
        {
            if (type.Find(name) is { } resource)
            {
                builder.Add(resource);
            }
            else if (TypeUrl == TypeUrls.Endpoint)
            {
                // Envoy and gRPC wait for every EDS name they ask for; unknown ones get an empty assignment.
                builder.Add(XdsResource.EmptyEndpoints(name));
            }
        }
        var resources = builder.ToImmutable();
        return (resources, ContentHash.OfEntries(resources.Select(r => (r.Name, r.Version))));
    }

    public void Desire(string version) => DesiredVersion = version;

    /// <summary>The shortest TTL among the resources held, or null.</summary>
    public TimeSpan? ShortestTtl { get; private set; }

    /// <summary>Heartbeats for the held resources with a TTL, once half of the shortest has passed since they were last sent.</summary>
    public IReadOnlyList<XdsResource>? HeartbeatsDue(DateTimeOffset now) =>
        ShortestTtl is { } ttl && LastSentAt is { } sent && now - sent >= ttl / 2 ? [.. Held.Where(r => r.Ttl is not null)] : null;

    public void HeartbeatSent(string nonce, DateTimeOffset at)
    {
        LastSentNonce = nonce;
        LastSentAt = at;
        Open = false;
    }

    public void Sent(string version, string nonce, DateTimeOffset at, ImmutableArray<XdsResource> resources)
    {
        ShortestTtl = resources.Where(r => r.Ttl is not null).Select(r => r.Ttl).Min();
        LastSentVersion = version;
        LastSentNonce = nonce;
        LastSentAt = at;
        Held = resources;
        Open = false;
        ForceSend = false;
        Asked = false;
    }

    public TypeView View() => new(TypeUrl, Wildcard, _namesView, LastSentVersion, LastSentAt, AckedVersion, LastNack, Held, DesiredVersion);
}
