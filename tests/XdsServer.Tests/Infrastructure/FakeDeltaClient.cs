using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.XdsServer.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A delta (incremental) ADS client that checks nonces and duplicate names as it records.</summary>
internal sealed class FakeDeltaClient : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse> _call;
    private readonly Channel<DeltaDiscoveryResponse> _received = Channel.CreateUnbounded<DeltaDiscoveryResponse>();
    private readonly HashSet<string> _nonces = [];
    private readonly Task _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private bool _sentNode;
    private int _probe;

    public FakeDeltaClient(GrpcChannel channel, string nodeId)
    {
        NodeId = nodeId;
        _call = new Ads.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources();
        _reader = ReadAsync();
    }

    public string NodeId { get; }

    public async Task SendAsync(DeltaDiscoveryRequest request)
    {
        if (!_sentNode && request.Node is null)
        {
            request.Node = new Node { Id = NodeId, Cluster = "test-cluster" };
        }
        _sentNode = true;
        // A gRPC request stream takes one write at a time; tests write from several tasks.
        await _writeLock.WaitAsync().WithTimeout("the request stream to be free");
        try
        {
            await _call.RequestStream.WriteAsync(request).WithTimeout($"sending a delta {request.TypeUrl} request");
        }
        finally
        {
            _writeLock.Release();
        }
    }

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

    public async Task<DeltaDiscoveryResponse> ReceiveAsync(string? expectedType = null)
    {
        var response = await _received.Reader.ReadAsync().AsTask().WithTimeout($"a {expectedType ?? "any"} response on the delta stream of '{NodeId}'");
        if (expectedType is not null)
        {
            Assert.Equal(expectedType, response.TypeUrl);
        }
        return response;
    }

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

    private async Task ReadAsync()
    {
        try
        {
            await foreach (var response in _call.ResponseStream.ReadAllAsync())
            {
                Assert.False(string.IsNullOrEmpty(response.Nonce), "every response must carry a nonce");
                Assert.True(_nonces.Add(response.Nonce), $"nonce '{response.Nonce}' was sent twice on one stream");
                var names = Names(response).Concat(response.RemovedResources).ToList();
                Assert.True(names.Distinct().Count() == names.Count, $"a delta response named a resource twice: [{string.Join(", ", names)}]");
                await _received.Writer.WriteAsync(response);
            }
        }
        catch (RpcException)
        {
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _call.Dispose();
        _writeLock.Dispose();
        try
        {
            await _reader.WithTimeout("the delta reader to stop");
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
        }
    }
}
