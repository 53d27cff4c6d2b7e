using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Services;

// The per-type services (CDS, EDS, LDS, RDS, SDS): the same protocol as ADS, each fixed to one type.
// gRPC generates a base class per service, so each needs its own class; what they do is written once.

/// <summary>The per-type Cluster discovery service: stream, delta and fetch of Cluster resources only.</summary>
internal sealed class ClusterDiscoveryService(XdsStreamDependencies deps) : Envoy.Service.Cluster.V3.ClusterDiscoveryService.ClusterDiscoveryServiceBase
{
    public override Task StreamClusters(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) => new SotwStream(deps, TypeUrls.Cluster, requestStream, responseStream, context).RunAsync();

    public override Task DeltaClusters(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) => new DeltaStream(deps, TypeUrls.Cluster, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchClusters(DiscoveryRequest request, ServerCallContext context) => FetchResponder.FetchAsync(deps, TypeUrls.Cluster, request, context);
}

/// <summary>The per-type Endpoint discovery service: stream, delta and fetch of Endpoint resources only.</summary>
internal sealed class EndpointDiscoveryService(XdsStreamDependencies deps) : Envoy.Service.Endpoint.V3.EndpointDiscoveryService.EndpointDiscoveryServiceBase
{
    public override Task StreamEndpoints(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) => new SotwStream(deps, TypeUrls.Endpoint, requestStream, responseStream, context).RunAsync();

    public override Task DeltaEndpoints(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) => new DeltaStream(deps, TypeUrls.Endpoint, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchEndpoints(DiscoveryRequest request, ServerCallContext context) => FetchResponder.FetchAsync(deps, TypeUrls.Endpoint, request, context);
}

/// <summary>The per-type Listener discovery service: stream, delta and fetch of Listener resources only.</summary>
internal sealed class ListenerDiscoveryService(XdsStreamDependencies deps) : Envoy.Service.Listener.V3.ListenerDiscoveryService.ListenerDiscoveryServiceBase
{
    public override Task StreamListeners(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) => new SotwStream(deps, TypeUrls.Listener, requestStream, responseStream, context).RunAsync();

    public override Task DeltaListeners(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) => new DeltaStream(deps, TypeUrls.Listener, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchListeners(DiscoveryRequest request, ServerCallContext context) => FetchResponder.FetchAsync(deps, TypeUrls.Listener, request, context);
}

/// <summary>The per-type Route discovery service: stream, delta and fetch of Route resources only.</summary>
internal sealed class RouteDiscoveryService(XdsStreamDependencies deps) : Envoy.Service.Route.V3.RouteDiscoveryService.RouteDiscoveryServiceBase
{
    public override Task StreamRoutes(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) => new SotwStream(deps, TypeUrls.Route, requestStream, responseStream, context).RunAsync();

    public override Task DeltaRoutes(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) => new DeltaStream(deps, TypeUrls.Route, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchRoutes(DiscoveryRequest request, ServerCallContext context) => FetchResponder.FetchAsync(deps, TypeUrls.Route, request, context);
}

/// <summary>The per-type Secret discovery service: stream, delta and fetch of Secret resources only.</summary>
internal sealed class SecretDiscoveryService(XdsStreamDependencies deps) : Envoy.Service.Secret.V3.SecretDiscoveryService.SecretDiscoveryServiceBase
{
    public override Task StreamSecrets(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) => new SotwStream(deps, TypeUrls.Secret, requestStream, responseStream, context).RunAsync();

    public override Task DeltaSecrets(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) => new DeltaStream(deps, TypeUrls.Secret, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchSecrets(DiscoveryRequest request, ServerCallContext context) => FetchResponder.FetchAsync(deps, TypeUrls.Secret, request, context);
}
