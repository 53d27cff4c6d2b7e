using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using DeltaResource = Envoy.Service.Discovery.V3.Resource;

namespace ZenMesh.Xds.Resources;

/// <summary>
/// One named resource, packed once and shared by every response that carries it. Immutable after
/// construction: the same instance is serialized concurrently by many streams.
/// </summary>
public sealed class XdsResource
{
    private XdsResource(string typeUrl, string name, Any body, string version, TimeSpan? ttl)
    {
        TypeUrl = typeUrl;
        Name = name;
        Body = body;
        Version = version;
        Ttl = ttl;
        Delta = new DeltaResource { Name = name, Version = version, Resource_ = body };
        if (ttl is { } t)
        {
            var duration = Duration.FromTimeSpan(t);
            Delta.Ttl = duration;
            Sotw = Any.Pack(new DeltaResource { Name = name, Version = version, Resource_ = body, Ttl = duration });
            DeltaHeartbeat = new DeltaResource { Name = name, Version = version, Ttl = duration };
            SotwHeartbeat = Any.Pack(DeltaHeartbeat);
        }
        else
        {
            Sotw = body;
        }
    }

    public string TypeUrl { get; }
    public string Name { get; }
    public Any Body { get; }

    /// <summary>Content hash of the serialized resource.</summary>
    public string Version { get; }

    /// <summary>The same resource wrapped for delta responses.</summary>
    public DeltaResource Delta { get; }

    /// <summary>
    /// How long a client may keep the resource without hearing of it again (xDS TTL); null for ever.
    /// The server sends a heartbeat (name and version, no body) before it runs out.
    /// </summary>
    public TimeSpan? Ttl { get; }

    /// <summary>What a SotW response carries: the body, or with a TTL the body wrapped in a Resource.</summary>
    public Any Sotw { get; }

    /// <summary>A heartbeat: a Resource with the name, the current version and the TTL, and no body.</summary>
    public Any? SotwHeartbeat { get; }
    public DeltaResource? DeltaHeartbeat { get; }

    public static XdsResource Create(IMessage message, TimeSpan? ttl = null)
    {
        // The TTL is part of what the client is told, so it is part of the version (see FromAny).
        return FromAny(ResourceNames.Of(message), Any.Pack(message), ttl);
    }

    /// <summary>
    /// A resource received packed (by a relay such as the edge agent): the same version the
    /// control plane computed, since the version is the content hash of the same bytes.
    /// </summary>
    public static XdsResource FromAny(string name, Any body, TimeSpan? ttl = null)
    {
        if (ttl is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ttl), ttl, "A TTL must be positive.");
        }
        var version = ContentHash.Of(body.Value.Span);
        return new XdsResource(body.TypeUrl, name, body, ttl is null ? version : ContentHash.Of(System.Text.Encoding.UTF8.GetBytes($"{version}|ttl={ttl.Value.Ticks}")), ttl);
    }

    /// <summary>
    /// An empty ClusterLoadAssignment for an EDS name the server does not know, so a client that
    /// asks for it finishes warming instead of waiting for ever.
    /// </summary>
    public static XdsResource EmptyEndpoints(string clusterName) =>
        Create(new Envoy.Config.Endpoint.V3.ClusterLoadAssignment { ClusterName = clusterName });

    public override string ToString() => $"{TypeUrls.ShortName(TypeUrl)} {Name}@{Version}{(Ttl is null ? "" : $" ttl {Ttl}")}";
}
