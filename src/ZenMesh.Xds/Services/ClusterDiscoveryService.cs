using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;
using Generated = Envoy.Service.Cluster.V3.ClusterDiscoveryService;

namespace ZenMesh.Xds.Services;

/// <summary>The per-type CDS service: the same protocol as ADS, fixed to one type.</summary>
internal sealed class ClusterDiscoveryService(XdsStreamDependencies deps) : Generated.ClusterDiscoveryServiceBase
{
    public override Task StreamClusters(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        new SotwStream(deps, TypeUrls.Cluster, requestStream, responseStream, context).RunAsync();

    public override Task DeltaClusters(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        new DeltaStream(deps, TypeUrls.Cluster, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchClusters(DiscoveryRequest request, ServerCallContext context) =>
        FetchResponder.FetchAsync(deps, TypeUrls.Cluster, request, context);
}
