using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.Xds.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A delta (incremental) ADS client.</summary>
internal sealed class FakeDeltaClient(GrpcChannel channel, string nodeId)
    : FakeAdsClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(new Ads.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources(), nodeId, "delta")
{
    private int _probe;

    protected override Node? NodeOf(DeltaDiscoveryRequest request) => request.Node;
    protected override void SetNode(DeltaDiscoveryRequest request, Node node) => request.Node = node;
    protected override string TypeUrlOf(DeltaDiscoveryRequest request) => request.TypeUrl;
    protected override string TypeUrlOf(DeltaDiscoveryResponse response) => response.TypeUrl;
    protected override string NonceOf(DeltaDiscoveryResponse response) => response.Nonce;
    protected override IReadOnlyList<string> AllNames(DeltaDiscoveryResponse response) => [.. Names(response), .. response.RemovedResources];

    public Task SubscribeAsync(string typeUrl, params string[] names) =>
        SendAsync(new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResourceNamesSubscribe = { names } });

    public Task UnsubscribeAsync(string typeUrl, params string[] names) =>
        SendAsync(new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResourceNamesUnsubscribe = { names } });

    public Task AckAsync(DeltaDiscoveryResponse response) =>
        SendAsync(new DeltaDiscoveryRequest { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce });

    public Task NackAsync(DeltaDiscoveryResponse response, string message) =>
        SendAsync(new DeltaDiscoveryRequest
        {
            TypeUrl = response.TypeUrl,
            ResponseNonce = response.Nonce,
            ErrorDetail = new Google.Rpc.Status { Code = (int)StatusCode.InvalidArgument, Message = message },
        });

    /// <summary>
    /// Proves nothing else was sent: subscribing to a fresh secret name that does not exist is always
    /// answered (with that name removed), and the stream is handled in order.
    /// </summary>
    public async Task ExpectNoResponseAsync(string because)
    {
        var probe = $"probe-{++_probe}";
        await SubscribeAsync(TypeUrls.Secret, probe);
        var next = await ReceiveAsync();
        Assert.True(next.TypeUrl == TypeUrls.Secret && next.RemovedResources.Contains(probe), $"Expected no response {because}, but got a {next.TypeUrl} response with [{string.Join(", ", next.Resources.Select(r => r.Name))}] removed [{string.Join(", ", next.RemovedResources)}].");
    }

    public static IReadOnlyList<string> Names(DeltaDiscoveryResponse response) => [.. response.Resources.Select(r => r.Name)];
}
