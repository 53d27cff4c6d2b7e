using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.Hosting.Resilience;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.Xds.Client;

/// <summary>
/// The one delta xDS client: the agent's stream to the control plane, and the ingester's and the
/// egress's streams to their edge. One delta ADS stream as a node, subscribed to everything of the
/// given types, resuming from what is held (initial_resource_versions) after each reconnect, which
/// backs off the one way (<see cref="ReconnectLoop"/>) whatever broke the stream: fail static, the
/// caller keeps serving what it has.
/// </summary>
/// <remarks>
/// A push is a burst of responses, one per type. The burst is whole when what is held is the
/// snapshot its responses name (system_version_info), or at once for a single type; a control plane
/// that names none gets <see cref="MaxSettle"/> on the injected clock. Each whole state is handed to
/// the caller before the response that completed it is ACKed: a state the caller cannot take (it
/// throws) is NACKed with the reason and the state before the burst is kept, as is a response
/// whose resources do not parse. The caller's own clients' rejections are NACKed against the latest
/// nonce of their type.
/// </remarks>
public sealed partial class DeltaClient(GrpcChannel channel, Node node, IReadOnlyList<string> typeUrls, TimeProvider time, ILogger logger)
{
    /// <summary>
    /// The most a burst may wait for the rest of itself when its responses name no snapshot that what
    /// is held reaches (a control plane of another make).
    /// </summary>
    public static readonly TimeSpan MaxSettle = TimeSpan.FromMilliseconds(200);

    public Backoff Backoff { get; init; } = Backoff.Default;

    /// <summary>What the held states are named after ("xds node", "control plane address").</summary>
    public string Source { get; init; } = $"xds {node.Id}";

    /// <summary>Runs before each stream opens; what it throws is a failed attempt (an edge with no credential yet).</summary>
    public Action? BeforeStream { get; init; }

    /// <summary>Rejections to report upstream as NACKs; kept until a stream is up to carry them.</summary>
    public ChannelReader<DeltaRejection>? Rejections { get; init; }

    /// <summary>
    /// Runs until cancelled. <paramref name="onState"/> gets every whole state (it may throw to refuse
    /// it); <paramref name="onConnection"/> says when the stream is up or why it is not.
    /// </summary>
    public async Task RunAsync(Snapshot resumeFrom, Action<Snapshot> onState, Action<bool, string?> onConnection, CancellationToken cancellationToken)
    {
        var held = resumeFrom.Types.Where(t => typeUrls.Contains(t.Key))
            .ToDictionary(t => t.Key, t => new Dictionary<string, XdsResource>(t.Value.Resources, StringComparer.Ordinal), StringComparer.Ordinal);
        var client = new Ads.AggregatedDiscoveryServiceClient(channel);
        // Every failure is retried; what is not a lost connection is logged as the fault it is.
        var loop = new ReconnectLoop(Backoff, time, _ => true);
        await loop.RunAsync(
            (progressed, token) => StreamAsync(client, held, onState, onConnection, progressed, token),
            (lost, delay) =>
            {
                var reason = lost switch
                {
                    null => "the control plane ended the stream",
                    RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
                    _ => lost.Message,
                };
                onConnection(false, reason);
                if (lost is null or RpcException or IOException or HttpRequestException)
                {
                    Log.Lost(logger, node.Id, channel.Target, reason, delay);
                }
                else
                {
                    Log.Fault(logger, node.Id, lost);
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One stream, until it ends or breaks; <paramref name="progressed"/> once a response arrives.</summary>
    private async Task StreamAsync(Ads.AggregatedDiscoveryServiceClient client, Dictionary<string, Dictionary<string, XdsResource>> held, Action<Snapshot> onState, Action<bool, string?> onConnection, Action progressed, CancellationToken cancellationToken)
    {
        BeforeStream?.Invoke();
        using var call = client.DeltaAggregatedResources(cancellationToken: cancellationToken);
        var first = true;
        foreach (var typeUrl in typeUrls)
        {
            var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResourceNamesSubscribe = { "*" }, Node = first ? node : null };
            first = false;
            if (held.TryGetValue(typeUrl, out var resources))
            {
                request.InitialResourceVersions.Add(resources.ToDictionary(r => r.Key, r => r.Value.Version));
            }
            await call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        await call.ResponseHeadersAsync.ConfigureAwait(false);
        onConnection(true, null);
        Log.Connected(logger, node.Id, channel.Target);
        // Responses and rejections through one channel: the loop takes a whole burst before it hands it on.
        var inbox = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        using var streamEnded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = ReadAsync(call.ResponseStream, inbox.Writer, cancellationToken);
        var forwarder = Rejections is null ? Task.CompletedTask : ForwardAsync(Rejections, inbox.Writer, streamEnded.Token);
        var lastNonce = new Dictionary<string, string>(StringComparer.Ordinal);
        Task Reply(string typeUrl, string nonce, string? error = null) => call.RequestStream.WriteAsync(new DeltaDiscoveryRequest
        {
            TypeUrl = typeUrl,
            ResponseNonce = nonce,
            ErrorDetail = error is null ? null : new Google.Rpc.Status { Code = (int)StatusCode.InvalidArgument, Message = error },
        }, cancellationToken);
        try
        {
            while (await inbox.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var beforeBurst = Copy(held);
                var settleBy = time.GetUtcNow() + MaxSettle;
                string? burstOf = null;
                string? lastType = null;
                DeltaDiscoveryResponse? unanswered = null;
                Snapshot? whole = null;
                while (true)
                {
                    while (inbox.Reader.TryRead(out var item))
                    {
                        if (item is DeltaDiscoveryResponse response)
                        {
                            progressed();
                            lastNonce[response.TypeUrl] = response.Nonce;
                            // Only the response that may complete the burst waits for the state's verdict.
                            if (unanswered is not null)
                            {
                                await Reply(unanswered.TypeUrl, unanswered.Nonce).ConfigureAwait(false);
                                unanswered = null;
                            }
                            if (Apply(held, response) is { } unparsed)
                            {
                                Log.Refused(logger, node.Id, response.TypeUrl, unparsed);
                                await Reply(response.TypeUrl, response.Nonce, unparsed).ConfigureAwait(false);
                                continue;
                            }
                            burstOf = response.SystemVersionInfo;
                            lastType = response.TypeUrl;
                            unanswered = response;
                        }
                        else if (item is DeltaRejection rejection && lastNonce.TryGetValue(rejection.TypeUrl, out var nonce))
                        {
                            // The control plane records it; it sends nothing new until the config changes.
                            await Reply(rejection.TypeUrl, nonce, rejection.Reason).ConfigureAwait(false);
                        }
                    }
                    if (burstOf is null)
                    {
                        break;
                    }
                    whole = Held(held);
                    if (typeUrls.Count == 1 || whole.Version == burstOf)
                    {
                        break;
                    }
                    // Not yet whole: the rest is on its way, or, from a control plane that names no
                    // snapshot, is taken as it is after MaxSettle.
                    if (unanswered is not null)
                    {
                        await Reply(unanswered.TypeUrl, unanswered.Nonce).ConfigureAwait(false);
                        unanswered = null;
                    }
                    var wait = settleBy - time.GetUtcNow();
                    if (wait <= TimeSpan.Zero || !await MoreWithinAsync(inbox.Reader, wait, time, cancellationToken).ConfigureAwait(false))
                    {
                        break;
                    }
                }
                if (burstOf is null)
                {
                    if (unanswered is not null)
                    {
                        await Reply(unanswered.TypeUrl, unanswered.Nonce).ConfigureAwait(false);
                    }
                    continue;
                }
                string? refused = null;
                try
                {
                    onState(whole!);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    refused = $"{e.GetType().Name}: {e.Message}";
                    Log.Refused(logger, node.Id, lastType!, refused);
                    held.Clear();
                    foreach (var (typeUrl, resources) in beforeBurst)
                    {
                        held[typeUrl] = resources;
                    }
                }
                await Reply(lastType!, unanswered?.Nonce ?? lastNonce[lastType!], refused).ConfigureAwait(false);
            }
        }
        finally
        {
            await streamEnded.CancelAsync().ConfigureAwait(false);
            await reader.ConfigureAwait(false);
            await forwarder.ConfigureAwait(false);
        }
    }

    /// <summary>Applies one response to what is held; the reason when its resources do not parse (nothing of it is applied then).</summary>
    private static string? Apply(Dictionary<string, Dictionary<string, XdsResource>> held, DeltaDiscoveryResponse response)
    {
        var resources = held.TryGetValue(response.TypeUrl, out var before)
            ? new Dictionary<string, XdsResource>(before, StringComparer.Ordinal)
            : new Dictionary<string, XdsResource>(StringComparer.Ordinal);
        try
        {
            foreach (var name in response.RemovedResources)
            {
                resources.Remove(name);
            }
            foreach (var resource in response.Resources)
            {
                // A resource without a body is a TTL heartbeat: what is held stays.
                if (resource.Resource_ is { } body)
                {
                    resources[resource.Name] = XdsResource.FromAny(resource.Name, body, resource.Ttl?.ToTimeSpan());
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
        held[response.TypeUrl] = resources;
        return null;
    }

    private Snapshot Held(Dictionary<string, Dictionary<string, XdsResource>> held) => Snapshot.Create(held.Values.SelectMany(t => t.Values), Source);

    // The per-type dictionaries are replaced, never changed in place (Apply copies): a shallow copy holds the state.
    private static Dictionary<string, Dictionary<string, XdsResource>> Copy(Dictionary<string, Dictionary<string, XdsResource>> held) => new(held, StringComparer.Ordinal);

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

    private static async Task ForwardAsync(ChannelReader<DeltaRejection> rejections, ChannelWriter<object> writer, CancellationToken streamEnded)
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 1113, Level = LogLevel.Information, Message = "node '{Node}' has an xDS stream to {Address}")]
        public static partial void Connected(ILogger logger, string node, string address);

        [LoggerMessage(EventId = 1112, Level = LogLevel.Error, Message = "node '{Node}' could not apply the control plane's {TypeUrl} ({Reason}); NACKed it and kept the config it had")]
        public static partial void Refused(ILogger logger, string node, string typeUrl, string reason);

        [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "no xDS stream for node '{Node}' to {Address} ({Reason}); keeping the config already held, retrying in {Delay}")]
        public static partial void Lost(ILogger logger, string node, string address, string reason, TimeSpan delay);

        [LoggerMessage(EventId = 1114, Level = LogLevel.Error, Message = "the xDS client of node '{Node}' failed unexpectedly; keeping the config already held, restarting it")]
        public static partial void Fault(ILogger logger, string node, Exception exception);
    }
}
