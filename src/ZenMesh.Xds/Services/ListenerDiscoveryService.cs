using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;
using Generated = Envoy.Service.Listener.V3.ListenerDiscoveryService;

namespace ZenMesh.Xds.Services;

/// <summary>The per-type LDS service: the same protocol as ADS, fixed to one type.</summary>
internal sealed class ListenerDiscoveryService(XdsStreamDependencies deps) : Generated.ListenerDiscoveryServiceBase
{
    public override Task StreamListeners(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        new SotwStream(deps, TypeUrls.Listener, requestStream, responseStream, context).RunAsync();

    public override Task DeltaListeners(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        new DeltaStream(deps, TypeUrls.Listener, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchListeners(DiscoveryRequest request, ServerCallContext context) =>
        FetchResponder.FetchAsync(deps, TypeUrls.Listener, request, context);
}
