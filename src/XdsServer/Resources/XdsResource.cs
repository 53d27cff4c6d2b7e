using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using DeltaResource = Envoy.Service.Discovery.V3.Resource;

namespace ZenMesh.XdsServer.Resources;

/// <summary>
/// One named resource, packed once and shared by every response that carries it. Immutable after
/// construction: the same instance is serialized concurrently by many streams.
/// </summary>
public sealed class XdsResource
{
    private XdsResource(string typeUrl, string name, Any body, string version)
    {
        TypeUrl = typeUrl;
        Name = name;
        Body = body;
        Version = version;
        Delta = new DeltaResource { Name = name, Version = version, Resource_ = body };
    }

    public string TypeUrl { get; }
    public string Name { get; }
    public Any Body { get; }

    /// <summary>Content hash of the serialized resource.</summary>
    public string Version { get; }

    /// <summary>The same resource wrapped for delta responses.</summary>
    public DeltaResource Delta { get; }

    public static XdsResource Create(IMessage message)
    {
        var body = Any.Pack(message);
        var name = ResourceNames.Of(message);
        return new XdsResource(body.TypeUrl, name, body, ContentHash.Of(body.Value.Span));
    }

    /// <summary>
    /// An empty ClusterLoadAssignment for an EDS name the server does not know, so a client that
    /// asks for it finishes warming instead of waiting for ever.
    /// </summary>
    public static XdsResource EmptyEndpoints(string clusterName) =>
        Create(new Envoy.Config.Endpoint.V3.ClusterLoadAssignment { ClusterName = clusterName });

    public override string ToString() => $"{TypeUrls.ShortName(TypeUrl)} {Name}@{Version}";
}
