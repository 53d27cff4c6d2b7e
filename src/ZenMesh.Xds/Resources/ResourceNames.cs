using Google.Protobuf;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;

namespace ZenMesh.Xds.Resources;

/// <summary>Where each served type keeps its name.</summary>
public static class ResourceNames
{
    public static string Of(IMessage message) => message switch
    {
        Cluster c => c.Name,
        ClusterLoadAssignment e => e.ClusterName,
        Listener l => l.Name,
        RouteConfiguration r => r.Name,
        Secret s => s.Name,
        ZenMesh.Contracts.V1.EndpointPolicy p => p.Name,
        ZenMesh.Contracts.V1.FlowPolicy p => p.Name,
        _ => throw new ArgumentException($"'{message.Descriptor.FullName}' is not a resource type this server serves; served: {string.Join(", ", TypeUrls.PushOrder)}.", nameof(message)),
    };

    /// <summary>The field that holds the name, for error messages.</summary>
    public static string FieldOf(string typeUrl) => typeUrl == TypeUrls.Endpoint ? "cluster_name" : "name";
}
