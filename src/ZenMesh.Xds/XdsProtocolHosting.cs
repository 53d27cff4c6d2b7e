using Microsoft.Extensions.DependencyInjection.Extensions;
using ZenMesh.Hosting;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Services;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds;

/// <summary>Wires the protocol into a host: the same services and admin views in the control plane and the agent.</summary>
public static class XdsProtocolHosting
{
    /// <summary>
    /// The cache, streams and their bounds. A host may register its own <see cref="IXdsEventSink"/>
    /// and <see cref="INodeAuthorizer"/> first; otherwise nothing is reported and node ids are trusted.
    /// </summary>
    public static IServiceCollection AddXdsProtocol(this IServiceCollection services, XdsLimits limits)
    {
        services.AddSingleton(limits);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<ISnapshotCache, SnapshotCache>();
        services.TryAddSingleton<INodeHash, NodeIdHash>();
        services.TryAddSingleton<IXdsEventSink, NoXdsEvents>();
        services.TryAddSingleton<INodeAuthorizer, TrustedNodeIds>();
        services.AddSingleton<ClientRegistry>();
        services.AddSingleton<StreamAdmission>();
        services.AddSingleton<PushGate>();
        services.AddSingleton<XdsStreamDependencies>();
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = 16 * 1024 * 1024;
            o.MaxSendMessageSize = null;
        });
        services.AddStrictMessageParsing();
        return services;
    }

    /// <summary>
    /// ADS, the per-type services and CSDS. The host declares where they are served and who may
    /// call them on what this returns; the admin views are mapped apart (<see cref="MapXdsAdminViews"/>),
    /// since they belong on another listener.
    /// </summary>
    public static IEndpointConventionBuilder MapXdsProtocol(this IEndpointRouteBuilder app) => new ZenMesh.Hosting.EndpointConventions(
    [
        app.MapGrpcService<AggregatedDiscoveryService>(),
        app.MapGrpcService<ClusterDiscoveryService>(),
        app.MapGrpcService<EndpointDiscoveryService>(),
        app.MapGrpcService<ListenerDiscoveryService>(),
        app.MapGrpcService<RouteDiscoveryService>(),
        app.MapGrpcService<SecretDiscoveryService>(),
        app.MapGrpcService<ClientStatusService>(),
    ]);

    /// <summary>The HTTP admin views under /admin/xds: every connected node, its subscriptions and NACKs.</summary>
    public static IEndpointConventionBuilder MapXdsAdminViews(this IEndpointRouteBuilder app) => app.MapXdsAdmin();

    /// <summary>GET /healthz: the process is up and how many xDS streams it holds; for probes, so it names nothing.</summary>
    public static IEndpointConventionBuilder MapXdsHealth(this IEndpointRouteBuilder app) =>
        app.MapGet("/healthz", (StreamAdmission admission) => Results.Json(new { status = "ok", streams = admission.Open }));
}
