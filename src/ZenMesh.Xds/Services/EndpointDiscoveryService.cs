using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;
using Generated = Envoy.Service.Endpoint.V3.EndpointDiscoveryService;

namespace ZenMesh.Xds.Services;

/// <summary>The per-type EDS service: the same protocol as ADS, fixed to one type.</summary>
internal sealed class EndpointDiscoveryService(XdsStreamDependencies deps) : Generated.EndpointDiscoveryServiceBase
{
    public override Task StreamEndpoints(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        new SotwStream(deps, TypeUrls.Endpoint, requestStream, responseStream, context).RunAsync();

    public override Task DeltaEndpoints(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        new DeltaStream(deps, TypeUrls.Endpoint, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchEndpoints(DiscoveryRequest request, ServerCallContext context) =>
        FetchResponder.FetchAsync(deps, TypeUrls.Endpoint, request, context);
}
