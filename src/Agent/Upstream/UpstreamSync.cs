using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.LastKnownGood;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Agent.Status;
using ZenMesh.Hosting.Resilience;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.Agent.Upstream;

/// <summary>
/// The agent's one outbound connection: a delta ADS stream to the control plane as the edge's node,
/// subscribed to everything of every type. Each consistent state it reaches is served to the local
/// clients and stored as a new generation; an incomplete one (clusters before their endpoints) waits
/// for the rest. Reconnects back off the one way (<see cref="ReconnectLoop"/>), and resume from what is held
/// (initial_resource_versions), so a reconnect costs only what changed.
/// </summary>
internal sealed partial class UpstreamSync(
    IOptions<AgentOptions> options,
    UpstreamChannel upstream,
    UpstreamReports reports,
    LocalVerdicts verdicts,
    ISnapshotCache cache,
    GenerationStore store,
    AgentStatus status,
    TimeProvider time,
    ILogger<UpstreamSync> logger) : BackgroundService
{
    private readonly AgentOptions _options = options.Value;
    private readonly Dictionary<string, Dictionary<string, XdsResource>> _held = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _lastNonce = new(StringComparer.Ordinal);
    private string? _published;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // What the last-known-good loader is serving is where the stream resumes from.
        var served = cache.Current("");
        foreach (var (typeUrl, type) in served.Types)
        {
            _held[typeUrl] = new Dictionary<string, XdsResource>(type.Resources, StringComparer.Ordinal);
        }
        _published = served.Types.IsEmpty ? null : served.Version;

        var client = new Ads.AggregatedDiscoveryServiceClient(upstream.Channel);
        // Fail static: no failure stops the relay serving what it has, so every one is retried;
        // what is not a lost connection is logged as the fault it is.
        var loop = new ReconnectLoop(new Backoff(_options.ReconnectDelay, _options.MaxReconnectDelay), time, _ => true);
        await loop.RunAsync(
            (progressed, token) => RunStreamAsync(client, progressed, token),
            (lost, delay) =>
            {
                var reason = Describe(lost);
                status.Disconnected(reason);
                if (lost is null or RpcException or IOException or HttpRequestException)
                {
                    Log.Lost(logger, upstream.Address, reason, delay);
                }
                else
                {
                    Log.Fault(logger, lost);
                }
            },
            stoppingToken).ConfigureAwait(false);
    }

    /// <summary>One stream, until it ends or breaks; <paramref name="progressed"/> on each response.</summary>
    private async Task RunStreamAsync(Ads.AggregatedDiscoveryServiceClient client, Action progressed, CancellationToken cancellationToken)
    {
        if (upstream.UsesTls && upstream.Credentials.Current is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, $"No edge credential in {Path.GetFullPath(Identity.CredentialFiles.Directory(_options.StateDir))}, and {_options.ControlPlane} requires one. Enroll first: agent enroll --bundle <file> --state-dir {_options.StateDir}."));
        }
        using var call = client.DeltaAggregatedResources(cancellationToken: cancellationToken);
        var node = new Node { Id = _options.Edge, Cluster = "zenmesh-agent", UserAgentName = "zenmesh-agent", UserAgentVersion = typeof(UpstreamSync).Assembly.GetName().Version?.ToString() ?? "" };
        foreach (var typeUrl in TypeUrls.PushOrder)
        {
            var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResourceNamesSubscribe = { "*" } };
            if (_held.TryGetValue(typeUrl, out var held))
            {
                request.InitialResourceVersions.Add(held.ToDictionary(r => r.Key, r => r.Value.Version));
            }
            if (node is not null)
            {
                request.Node = node;
                node = null;
            }
            await call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        await call.ResponseHeadersAsync.ConfigureAwait(false);
        status.Connected();
        Log.Connected(logger, upstream.Address, _options.Edge!);
        // A push is a burst of responses, one per type; reading them through a channel lets the loop
        // take a whole burst before it publishes, so local clients and the store see one new state.
        var inbox = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        using var streamEnded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = ReadAsync(call.ResponseStream, inbox.Writer, cancellationToken);
        var forwarder = ForwardAsync(reports.Rejections, inbox.Writer, streamEnded.Token);
        try
        {
            while (await inbox.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var settleBy = time.GetUtcNow() + MaxSettle;
                Snapshot? whole = null;
                string? burstOf = null;
                while (true)
                {
                    while (inbox.Reader.TryRead(out var item))
                    {
                        if (item is DeltaDiscoveryResponse response)
                        {
                            // Progress is a response, not headers: a refusal can come with headers too.
                            progressed();
                            Apply(response);
                            burstOf = response.SystemVersionInfo;
                            whole = null;
                            _lastNonce[response.TypeUrl] = response.Nonce;
                            await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce }, cancellationToken).ConfigureAwait(false);
                        }
                        else if (item is LocalRejection rejection && _lastNonce.TryGetValue(rejection.TypeUrl, out var nonce))
                        {
                            // The control plane records it against this edge (status, evidence); it sends
                            // nothing new until the config changes, which is what a NACK asks for.
                            await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest
                            {
                                TypeUrl = rejection.TypeUrl,
                                ResponseNonce = nonce,
                                ErrorDetail = new Google.Rpc.Status { Code = (int)StatusCode.InvalidArgument, Message = $"local client '{rejection.NodeId}' rejected it: {rejection.Message}" },
                            }, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    if (burstOf is null)
                    {
                        break;
                    }
                    // A burst is complete when what is held is the snapshot each of its responses names
                    // (system_version_info): one publish and one stored generation for the whole change.
                    whole ??= Held();
                    if (whole.Version == burstOf)
                    {
                        break;
                    }
                    // Not yet whole: the rest of the burst is on its way. A control plane that names no
                    // snapshot gets MaxSettle on the injected clock, then what is held is taken as it is.
                    var wait = settleBy - time.GetUtcNow();
                    if (wait <= TimeSpan.Zero || !await MoreWithinAsync(inbox.Reader, wait, time, cancellationToken).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                if (burstOf is not null)
                {
                    status.Contact();
                    Publish(whole ?? Held());
                }
            }
        }
        finally
        {
            await streamEnded.CancelAsync().ConfigureAwait(false);
            await reader.ConfigureAwait(false);
            await forwarder.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The most a burst may wait for the rest of itself when its responses name no snapshot that what
    /// is held reaches (a control plane of another make): on the injected clock.
    /// </summary>
    private static readonly TimeSpan MaxSettle = TimeSpan.FromMilliseconds(200);

    private static async Task<bool> MoreWithinAsync(ChannelReader<object> reader, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(wait, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await reader.WaitToReadAsync(either.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static async Task ForwardAsync(ChannelReader<LocalRejection> rejections, ChannelWriter<object> writer, CancellationToken streamEnded)
    {
        try
        {
            await foreach (var rejection in rejections.ReadAllAsync(streamEnded).ConfigureAwait(false))
            {
                writer.TryWrite(rejection);
            }
        }
        catch (OperationCanceledException)
        {
            // The stream ended; what is still queued waits for the next one.
        }
    }

    private static async Task ReadAsync(IAsyncStreamReader<DeltaDiscoveryResponse> stream, ChannelWriter<object> writer, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var response in stream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await writer.WriteAsync(response, cancellationToken).ConfigureAwait(false);
            }
            writer.TryComplete();
        }
        catch (Exception e)
        {
            // The processing loop rethrows it from WaitToReadAsync: the stream failed.
            writer.TryComplete(e);
        }
    }

    private void Apply(DeltaDiscoveryResponse response)
    {
        if (!_held.TryGetValue(response.TypeUrl, out var held))
        {
            held = new Dictionary<string, XdsResource>(StringComparer.Ordinal);
            _held[response.TypeUrl] = held;
        }
        foreach (var name in response.RemovedResources)
        {
            held.Remove(name);
        }
        foreach (var resource in response.Resources)
        {
            // A resource without a body is a TTL heartbeat: what is held stays.
            if (resource.Resource_ is { } body)
            {
                held[resource.Name] = XdsResource.FromAny(resource.Name, body, resource.Ttl?.ToTimeSpan());
            }
        }
    }

    private Snapshot Held() => Snapshot.Create(_held.Values.SelectMany(t => t.Values), $"control plane {_options.ControlPlane}");

    private void Publish(Snapshot snapshot)
    {
        if (snapshot.Version == _published)
        {
            return;
        }
        var update = cache.PublishDefault(snapshot);
        if (!update.Accepted)
        {
            // Typically clusters whose endpoints are the next response: serve the last whole state meanwhile.
            var (summary, errors) = (snapshot.Summary, string.Join("; ", update.Errors));
            Log.Incomplete(logger, summary, errors);
            return;
        }
        _published = snapshot.Version;
        verdicts.LiftPins();
        try
        {
            var generation = store.Save(snapshot, time.GetUtcNow());
            status.Serving(generation, "control plane", confirmed: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Serving goes on; only a restart during this outage would miss this version.
            Log.SaveFailed(logger, store.Directory, e.Message);
        }
    }

    private static string Describe(Exception? e) => e switch
    {
        RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
        null => "the control plane ended the stream",
        _ => e.Message,
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.UpstreamConnected, Level = LogLevel.Information, Message = "connected to the control plane at {Address} as node '{Edge}'")]
        public static partial void Connected(ILogger logger, string address, string edge);

        [LoggerMessage(EventId = LogEventIds.UpstreamLost, Level = LogLevel.Warning, Message = "no stream to the control plane at {Address} ({Reason}); serving the last-known-good config, retrying in {Delay}")]
        public static partial void Lost(ILogger logger, string address, string reason, TimeSpan delay);

        [LoggerMessage(EventId = LogEventIds.UpstreamFault, Level = LogLevel.Error, Message = "the upstream sync failed unexpectedly; still serving the last config, restarting it")]
        public static partial void Fault(ILogger logger, Exception exception);

        [LoggerMessage(EventId = LogEventIds.IncompleteConfig, Level = LogLevel.Debug, Message = "holding back an incomplete state ({Summary}: {Errors}) until the rest arrives")]
        public static partial void Incomplete(ILogger logger, string summary, string errors);

        [LoggerMessage(EventId = LogEventIds.GenerationSaveFailed, Level = LogLevel.Error, Message = "could not store the new config in {Directory}: {Reason}; still serving it")]
        public static partial void SaveFailed(ILogger logger, string directory, string reason);
    }
}
