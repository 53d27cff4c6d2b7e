using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;
using Generated = Envoy.Service.Route.V3.RouteDiscoveryService;

namespace ZenMesh.Xds.Services;

/// <summary>The per-type RDS service: the same protocol as ADS, fixed to one type.</summary>
internal sealed class RouteDiscoveryService(XdsStreamDependencies deps) : Generated.RouteDiscoveryServiceBase
{
    public override Task StreamRoutes(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        new SotwStream(deps, TypeUrls.Route, requestStream, responseStream, context).RunAsync();

    public override Task DeltaRoutes(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        new DeltaStream(deps, TypeUrls.Route, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchRoutes(DiscoveryRequest request, ServerCallContext context) =>
        FetchResponder.FetchAsync(deps, TypeUrls.Route, request, context);
}
