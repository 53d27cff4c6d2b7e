using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.Xds.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A state-of-the-world ADS client that behaves like Envoy where the test does not say otherwise.</summary>
internal sealed class FakeSotwClient(GrpcChannel channel, string nodeId)
    : FakeAdsClient<DiscoveryRequest, DiscoveryResponse>(new Ads.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(), nodeId, "SotW")
{
    protected override Node? NodeOf(DiscoveryRequest request) => request.Node;
    protected override void SetNode(DiscoveryRequest request, Node node) => request.Node = node;
    protected override string TypeUrlOf(DiscoveryRequest request) => request.TypeUrl;
    protected override string TypeUrlOf(DiscoveryResponse response) => response.TypeUrl;
    protected override string NonceOf(DiscoveryResponse response) => response.Nonce;
    protected override IReadOnlyList<string> AllNames(DiscoveryResponse response) => Names(response);

    public Task RequestAsync(string typeUrl, params string[] names) =>
        SendAsync(new DiscoveryRequest { TypeUrl = typeUrl, ResourceNames = { names } });

    /// <summary>ACK: echo the version and nonce, keep the names.</summary>
    public Task AckAsync(DiscoveryResponse response, params string[] names) =>
        SendAsync(new DiscoveryRequest { TypeUrl = response.TypeUrl, VersionInfo = response.VersionInfo, ResponseNonce = response.Nonce, ResourceNames = { names } });

    public Task NackAsync(DiscoveryResponse response, string previousVersion, string message, params string[] names) =>
        SendAsync(new DiscoveryRequest
        {
            TypeUrl = response.TypeUrl,
            VersionInfo = previousVersion,
            ResponseNonce = response.Nonce,
            ResourceNames = { names },
            ErrorDetail = new Google.Rpc.Status { Code = (int)StatusCode.InvalidArgument, Message = message },
        });

    /// <summary>
    /// Proves nothing else was sent: a request that is always answered (empty nonce) goes out now, and
    /// the next response must be its answer. The server handles a stream's events in order, so anything
    /// sent before would arrive first.
    /// </summary>
    public async Task ExpectNoResponseAsync(string because)
    {
        await SendAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Secret, ResourceNames = { "probe" } });
        var next = await ReceiveAsync();
        Assert.True(next.TypeUrl == TypeUrls.Secret, $"Expected no response {because}, but got a {next.TypeUrl} response version {next.VersionInfo} with [{string.Join(", ", Names(next))}].");
        // ACK it like Envoy would, so the probe leaves no STALE type behind in status views.
        await AckAsync(next, "probe");
    }

    public static IReadOnlyList<string> Names(DiscoveryResponse response) =>
        [.. response.Resources.Select(r => r.TypeUrl == TypeUrls.ResourceWrapper ? r.Unpack<Resource>().Name : ResourceNames.Of(r.Unpack(EnvoyTypeRegistry.Instance)))];
}
