using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.XdsServer.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// A state-of-the-world ADS client that behaves like Envoy where the test does not say otherwise
/// (node on the first request only, nonce echoed), and checks the server's invariants as it records:
/// every nonce fresh and non-empty, no name twice in one response.
/// </summary>
internal sealed class FakeSotwClient : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> _call;
    private readonly Channel<DiscoveryResponse> _received = Channel.CreateUnbounded<DiscoveryResponse>();
    private readonly HashSet<string> _nonces = [];
    private readonly Task _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private bool _sentNode;

    public FakeSotwClient(GrpcChannel channel, string nodeId)
    {
        NodeId = nodeId;
        _call = new Ads.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
        _reader = ReadAsync();
    }

    public string NodeId { get; }

    /// <summary>Set when the server ended the stream with a status.</summary>
    public RpcException? Failure { get; private set; }

    public async Task SendAsync(DiscoveryRequest request)
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
            await _call.RequestStream.WriteAsync(request).WithTimeout($"sending a {request.TypeUrl} request");
        }
        finally
        {
            _writeLock.Release();
        }
    }

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

    public async Task<DiscoveryResponse> ReceiveAsync(string? expectedType = null)
    {
        var response = await _received.Reader.ReadAsync().AsTask().WithTimeout($"a {expectedType ?? "any"} response on the SotW stream of '{NodeId}'");
        if (expectedType is not null)
        {
            Assert.Equal(expectedType, response.TypeUrl);
        }
        return response;
    }

    /// <summary>
    /// Proves nothing else was sent: a request that is always answered (first-of-stream semantics,
    /// empty nonce) goes out now, and the next response must be its answer. The server handles a
    /// stream's events in order, so anything sent before would arrive first.
    /// </summary>
    public async Task ExpectNoResponseAsync(string because)
    {
        await SendAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Secret, ResourceNames = { "probe" } });
        var next = await ReceiveAsync();
        Assert.True(next.TypeUrl == TypeUrls.Secret, $"Expected no response {because}, but got a {next.TypeUrl} response version {next.VersionInfo} with [{string.Join(", ", Names(next))}].");
        // ACK it like Envoy would, so the probe leaves no STALE type behind in status views.
        await AckAsync(next, "probe");
    }

    /// <summary>Waits for the server to end the stream; returns the status.</summary>
    public async Task<RpcException> FailureAsync()
    {
        await _reader.WithTimeout("the server to end the stream");
        return Failure ?? throw new InvalidOperationException("The stream ended without an error status.");
    }

    public static IReadOnlyList<string> Names(DiscoveryResponse response) =>
        [.. response.Resources.Select(r => r.TypeUrl == TypeUrls.ResourceWrapper ? r.Unpack<Resource>().Name : ResourceNames.Of(r.Unpack(EnvoyTypeRegistry.Instance)))];

    public Task CloseAsync() => _call.RequestStream.CompleteAsync();

    private async Task ReadAsync()
    {
        try
        {
            await foreach (var response in _call.ResponseStream.ReadAllAsync())
            {
                Assert.False(string.IsNullOrEmpty(response.Nonce), "every response must carry a nonce");
                Assert.True(_nonces.Add(response.Nonce), $"nonce '{response.Nonce}' was sent twice on one stream");
                var names = Names(response);
                Assert.True(names.Distinct().Count() == names.Count, $"a response named a resource twice: [{string.Join(", ", names)}]");
                await _received.Writer.WriteAsync(response);
            }
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            Failure = e;
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
            await _reader.WithTimeout("the SotW reader to stop");
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
        }
    }
}
