using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Grpc.Core;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// What the SotW and delta fake clients share: one ADS call, a recorded response queue, the node on
/// the first request only, writes serialized (a gRPC request stream takes one at a time), and the
/// server's invariants checked as responses arrive: every nonce fresh and non-empty, no name twice.
/// </summary>
internal abstract class FakeAdsClient<TRequest, TResponse> : IAsyncDisposable
    where TRequest : class
    where TResponse : class
{
    private readonly AsyncDuplexStreamingCall<TRequest, TResponse> _call;
    private readonly Channel<TResponse> _received = Channel.CreateUnbounded<TResponse>();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly HashSet<string> _nonces = [];
    private readonly Task _reader;
    private bool _sentNode;

    protected FakeAdsClient(AsyncDuplexStreamingCall<TRequest, TResponse> call, string nodeId, string kind)
    {
        _call = call;
        NodeId = nodeId;
        Kind = kind;
        _reader = ReadAsync();
    }

    public string NodeId { get; }

    protected string Kind { get; }

    /// <summary>Set when the server ended the stream with a status.</summary>
    public RpcException? Failure { get; private set; }

    protected abstract Node? NodeOf(TRequest request);
    protected abstract void SetNode(TRequest request, Node node);
    protected abstract string TypeUrlOf(TRequest request);
    protected abstract string TypeUrlOf(TResponse response);
    protected abstract string NonceOf(TResponse response);

    /// <summary>Every name a response carries (resources, and removed names for delta).</summary>
    protected abstract IReadOnlyList<string> AllNames(TResponse response);

    public async Task SendAsync(TRequest request)
    {
        if (!_sentNode && NodeOf(request) is null)
        {
            SetNode(request, new Node { Id = NodeId, Cluster = "test-cluster" });
        }
        _sentNode = true;
        await _writeLock.WaitAsync().WithTimeout("the request stream to be free");
        try
        {
            await _call.RequestStream.WriteAsync(request).WithTimeout($"sending a {Kind} {TypeUrlOf(request)} request");
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
        {
            // The server may end a stream before reading it (a caller with no credential is refused
            // at once); the write then finds the call over. The status is FailureAsync's to report.
            await _reader.WithTimeout("the server to end the stream");
            if (Failure is null)
            {
                throw;
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    public async Task<TResponse> ReceiveAsync(string? expectedType = null)
    {
        var response = await _received.Reader.ReadAsync().AsTask().WithTimeout($"a {expectedType ?? "any"} response on the {Kind} stream of '{NodeId}'");
        if (expectedType is not null)
        {
            Assert.Equal(expectedType, TypeUrlOf(response));
        }
        return response;
    }

    /// <summary>Waits for the server to end the stream; returns the status.</summary>
    public async Task<RpcException> FailureAsync()
    {
        await _reader.WithTimeout("the server to end the stream");
        return Failure ?? throw new InvalidOperationException("The stream ended without an error status.");
    }

    public Task CloseAsync() => _call.RequestStream.CompleteAsync();

    private async Task ReadAsync()
    {
        try
        {
            await foreach (var response in _call.ResponseStream.ReadAllAsync())
            {
                var nonce = NonceOf(response);
                Assert.False(string.IsNullOrEmpty(nonce), "every response must carry a nonce");
                Assert.True(_nonces.Add(nonce), $"nonce '{nonce}' was sent twice on one stream");
                var names = AllNames(response);
                Assert.True(names.Distinct().Count() == names.Count, $"a {Kind} response named a resource twice: [{string.Join(", ", names)}]");
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
        catch (ObjectDisposedException)
        {
            // DisposeAsync disposed the call while a read was pending: the test is over.
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _call.Dispose();
        try
        {
            await _reader.WithTimeout($"the {Kind} reader to stop");
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException)
        {
        }
        _writeLock.Dispose();
    }
}
