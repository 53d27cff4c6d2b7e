using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;
using Generated = Envoy.Service.Secret.V3.SecretDiscoveryService;

namespace ZenMesh.Xds.Services;

/// <summary>The per-type SDS service: the same protocol as ADS, fixed to one type.</summary>
internal sealed class SecretDiscoveryService(XdsStreamDependencies deps) : Generated.SecretDiscoveryServiceBase
{
    public override Task StreamSecrets(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        new SotwStream(deps, TypeUrls.Secret, requestStream, responseStream, context).RunAsync();

    public override Task DeltaSecrets(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        new DeltaStream(deps, TypeUrls.Secret, requestStream, responseStream, context).RunAsync();

    public override Task<DiscoveryResponse> FetchSecrets(DiscoveryRequest request, ServerCallContext context) =>
        FetchResponder.FetchAsync(deps, TypeUrls.Secret, request, context);
}
