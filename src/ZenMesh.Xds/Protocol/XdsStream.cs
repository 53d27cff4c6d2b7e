using System.Collections.Immutable;
using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>
/// The lifetime of one xDS stream, shared by state-of-the-world and delta. One task reads requests
/// into a bounded channel; snapshot changes drop a wake-up into the same channel; one loop drains it,
/// so protocol state has a single owner and the response stream has a single writer.
/// </summary>
internal abstract partial class XdsStream<TRequest, TResponse>
    where TRequest : class
{
    private readonly IAsyncStreamReader<TRequest> _requests;
    private readonly IServerStreamWriter<TResponse> _responses;
    private readonly ServerCallContext _context;
    private readonly Channel<TRequest?> _events;
    private readonly string? _fixedTypeUrl;
    private long _nonceCounter;
    private int _wakePending;
    private volatile ClientView? _view;
    private ITimer? _heartbeats;
    private TimeSpan? _heartbeatPeriod;
    private volatile bool _revoked;
    private volatile bool _firstRequestRead;
    private volatile bool _firstRequestLate;

    protected XdsStream(XdsStreamDependencies deps, string kind, string? fixedTypeUrl, IAsyncStreamReader<TRequest> requests, IServerStreamWriter<TResponse> responses, ServerCallContext context)
    {
        Deps = deps;
        Kind = kind;
        _fixedTypeUrl = fixedTypeUrl;
        _requests = requests;
        _responses = responses;
        _context = context;
        StreamId = deps.Registry.NextStreamId();
        Logger = deps.LoggerFactory.CreateLogger("ZenMesh.Xds.Protocol.XdsStream");
        _events = Channel.CreateBounded<TRequest?>(new BoundedChannelOptions(deps.Limits.StreamQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    protected XdsStreamDependencies Deps { get; }
    protected ILogger Logger { get; }
    protected long StreamId { get; }
    protected string Kind { get; }
    protected Node? Node { get; private set; }
    protected DateTimeOffset ConnectedAt { get; private set; }

    protected abstract Node? NodeOf(TRequest request);
    protected abstract string TypeUrlOf(TRequest request);

    /// <summary>Applies a request to the protocol state; never writes. False when no push can follow from it.</summary>
    protected abstract bool Handle(TRequest request, string typeUrl);

    /// <summary>Sends whatever the current snapshot and protocol state call for.</summary>
    protected abstract Task PushAsync(Snapshot snapshot, CancellationToken cancellationToken);

    protected abstract ImmutableDictionary<string, TypeView> ViewTypes();

    /// <summary>The shortest TTL among resources the client holds, or null: heartbeats are due at half of it.</summary>
    protected abstract TimeSpan? ShortestHeldTtl();

    public async Task RunAsync()
    {
        // With mutual TLS a caller proves who it is before it may hold a slot: streams opened
        // without a credential are refused at once, however many there are.
        if (Deps.Authorization.Required)
        {
            Deps.Authorization.Authenticate(_context);
        }
        using var admission = Deps.Admission.Admit();
        // Headers at once: a client learns the stream is up even when there is nothing to send yet
        // (a relay whose config is already current must still know it is connected).
        await _context.WriteResponseHeadersAsync([]).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_context.CancellationToken, Deps.Stopping);
        ConnectedAt = Deps.Time.GetUtcNow();
        // A stream that holds a slot but never asks for anything is closed, so silent streams
        // cannot keep the slots from the edges that need them.
        using var firstRequest = Deps.Time.CreateTimer(_ =>
        {
            if (!_firstRequestRead)
            {
                _firstRequestLate = true;
                stop.Cancel();
            }
        }, null, Deps.Limits.FirstRequestTimeout, Timeout.InfiniteTimeSpan);
        var reader = ReadRequestsAsync(stop.Token);
        IDisposable? watch = null;
        IDisposable? registration = null;
        IDisposable? revocation = null;
        string nodeKey = "";
        Snapshot? pushed = null;
        try
        {
            await foreach (var request in _events.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                var mayPush = true;
                if (request is not null)
                {
                    var typeUrl = ResolveTypeUrl(TypeUrlOf(request));
                    if (Node is null)
                    {
                        var node = NodeOf(request) ?? throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "The first request on an xDS stream must carry 'node' (at least node.id); this one has none. Set node in the first request of every stream."));
                        revocation = Deps.Authorization.Authorize(_context, node.Id, () =>
                        {
                            _revoked = true;
                            stop.Cancel();
                        });
                        Node = node;
                        nodeKey = Deps.NodeHash.KeyOf(Node);
                        watch = Deps.Cache.Watch(nodeKey, Wake);
                        registration = Deps.Registry.Register(StreamId, () => _view);
                        Log.StreamOpened(Logger, StreamId, Kind, Node.Id, Node.Cluster);
                    }
                    mayPush = Handle(request, typeUrl);
                }
                Volatile.Write(ref _wakePending, 0);
                if (Node is not null)
                {
                    var snapshot = Deps.Cache.Current(nodeKey);
                    if (mayPush || !ReferenceEquals(snapshot, pushed))
                    {
                        await PushAsync(snapshot, stop.Token).ConfigureAwait(false);
                        pushed = snapshot;
                    }
                    _view = new ClientView(StreamId, Kind, Node, ConnectedAt, ViewTypes());
                    ScheduleHeartbeats();
                }
            }
            Log.StreamClosed(Logger, StreamId, Node?.Id ?? "", "client closed the stream");
        }
        catch (OperationCanceledException) when (_firstRequestLate && !_context.CancellationToken.IsCancellationRequested)
        {
            var detail = $"No first request arrived within {Deps.Limits.FirstRequestTimeout.TotalSeconds:0} s of opening this xDS stream (Xds:Limits:FirstRequestTimeout); send the node and a request at once.";
            Log.StreamFailed(Logger, StreamId, "", StatusCode.DeadlineExceeded, detail);
            throw new RpcException(new Grpc.Core.Status(StatusCode.DeadlineExceeded, detail));
        }
        catch (OperationCanceledException) when (_revoked && !_context.CancellationToken.IsCancellationRequested)
        {
            var detail = $"The credential of edge '{Node?.Id}' was revoked (the edge was rotated or deleted); this stream is closed. Enroll the edge again to reconnect.";
            Log.StreamFailed(Logger, StreamId, Node?.Id ?? "", StatusCode.PermissionDenied, detail);
            throw new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, detail));
        }
        catch (OperationCanceledException) when (Deps.Stopping.IsCancellationRequested && !_context.CancellationToken.IsCancellationRequested)
        {
            Log.StreamClosed(Logger, StreamId, Node?.Id ?? "", "the server is shutting down");
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unavailable, "This xDS server is shutting down. Reconnect with backoff (to another replica, if there is one); keep serving what you have meanwhile."));
        }
        catch (OperationCanceledException) when (_context.CancellationToken.IsCancellationRequested)
        {
            Log.StreamClosed(Logger, StreamId, Node?.Id ?? "", "client went away");
        }
        catch (RpcException e)
        {
            // A request that did not parse was logged where it was refused.
            if (!e.Status.Detail.StartsWith(ZenMesh.Hosting.StrictMessageParsing.ParseFailure, StringComparison.Ordinal))
            {
                Log.StreamFailed(Logger, StreamId, Node?.Id ?? "", e.Status.StatusCode, e.Status.Detail);
            }
            throw;
        }
        finally
        {
            // Drop per-stream state at once: a client that returns gets a fresh stream, never this one's.
            watch?.Dispose();
            registration?.Dispose();
            revocation?.Dispose();
            _heartbeats?.Dispose();
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await reader.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException or RpcException)
            {
                // The reader only stops because the stream ended; its exception says nothing new.
            }
        }
    }

    /// <summary>Records a client's rejection of config (status, admin, logs) and returns it.</summary>
    protected NackRecord RecordNack(string typeUrl, string rejectedVersion, string nonce, Google.Rpc.Status error)
    {
        var nack = new NackRecord(Node!.Id, typeUrl, rejectedVersion, nonce, error.Code, Capped(error.Message, Deps.Limits.MaxNackDetailChars), Deps.Time.GetUtcNow());
        Deps.Registry.RecordNack(nack);
        Deps.Events.Nacked(nack);
        Log.Nack(Logger, nack.NodeId, typeUrl, nack.Version, error.Message);
        return nack;
    }

    /// <summary>A client's text as kept: at most <paramref name="max"/> characters, saying how many more there were.</summary>
    private static string Capped(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }
        var cut = $"... ({text.Length - (max - 40)} more characters)";
        return text[..(max - 40)] + cut;
    }

    /// <summary>The protocol state of a type on this stream, created on first use; kept in push order.</summary>
    protected static TState StateFor<TState>(SortedDictionary<int, TState> states, string typeUrl, Func<string, TState> create)
    {
        var rank = TypeUrls.Rank(typeUrl);
        if (!states.TryGetValue(rank, out var state))
        {
            state = create(typeUrl);
            states.Add(rank, state);
        }
        return state;
    }

    protected string NextNonce() => $"{Deps.NonceEpoch}.{StreamId}.{++_nonceCounter}";

    protected Task WriteAsync(TResponse response, CancellationToken cancellationToken) => _responses.WriteAsync(response, cancellationToken);

    /// <summary>
    /// While the client holds resources with a TTL, wake the loop every quarter of the shortest TTL,
    /// so a heartbeat due at half of it goes out by three quarters at the latest.
    /// </summary>
    private void ScheduleHeartbeats()
    {
        var period = ShortestHeldTtl() is { } ttl ? TimeSpan.FromTicks(Math.Max(ttl.Ticks / 4, TimeSpan.TicksPerMillisecond * 50)) : (TimeSpan?)null;
        if (period == _heartbeatPeriod)
        {
            return;
        }
        _heartbeats?.Dispose();
        _heartbeats = period is { } p ? Deps.Time.CreateTimer(_ => Wake(), null, p, p) : null;
        _heartbeatPeriod = period;
    }

    private void Wake()
    {
        if (Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            // A full queue needs no wake-up: every event re-reads the latest snapshot.
            _events.Writer.TryWrite(null);
        }
    }

    private async Task ReadRequestsAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var request in _requests.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _firstRequestRead = true;
                await _events.Writer.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            }
            _events.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _events.Writer.TryComplete(e);
            throw;
        }
    }

    private string ResolveTypeUrl(string typeUrl)
    {
        if (_fixedTypeUrl is not null)
        {
            if (typeUrl.Length == 0 || typeUrl == _fixedTypeUrl)
            {
                return _fixedTypeUrl;
            }
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"This is the {TypeUrls.ShortName(_fixedTypeUrl)} service; it serves only '{_fixedTypeUrl}', but the request has type_url '{typeUrl}'. Use the aggregated (ADS) service for other types."));
        }
        if (typeUrl.Length == 0)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"The request has no type_url. On an aggregated (ADS) stream every request must name its resource type, e.g. '{TypeUrls.Cluster}'."));
        }
        if (!typeUrl.StartsWith(TypeUrls.Prefix, StringComparison.Ordinal))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"type_url '{typeUrl}' is malformed: it must start with '{TypeUrls.Prefix}', e.g. '{TypeUrls.Cluster}'."));
        }
        if (!TypeUrls.IsServed(typeUrl))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unimplemented, $"type_url '{typeUrl}' is not served by this server. Served types: {string.Join(", ", TypeUrls.PushOrder)}."));
        }
        return typeUrl;
    }
}
