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
/// A data-plane service as an xDS client: one delta ADS stream as the edge's node, subscribed to
/// everything of the given types, applying each response before it ACKs it and NACKing (with the
/// reason) what it cannot apply. Each state is handed to the caller; a
/// broken stream is retried with the one backoff (<see cref="ReconnectLoop"/>), resuming from what
/// is held (initial_resource_versions), so the service keeps its config through any outage.
/// </summary>
public sealed partial class DeltaSubscriber(GrpcChannel channel, string nodeId, IReadOnlyList<string> typeUrls, TimeProvider time, ILogger logger)
{
    public Backoff Backoff { get; init; } = Backoff.Default;

    /// <summary>
    /// Runs until cancelled. <paramref name="onState"/> gets every state the control plane's responses
    /// add up to; <paramref name="onConnection"/> says when the stream is up or why it is not.
    /// </summary>
    public async Task RunAsync(Snapshot resumeFrom, Action<Snapshot> onState, Action<bool, string?> onConnection, CancellationToken cancellationToken)
    {
        var held = resumeFrom.Types.ToDictionary(t => t.Key, t => new Dictionary<string, XdsResource>(t.Value.Resources, StringComparer.Ordinal), StringComparer.Ordinal);
        var client = new Ads.AggregatedDiscoveryServiceClient(channel);
        var loop = new ReconnectLoop(Backoff, time, e => e is RpcException or IOException or HttpRequestException);
        await loop.RunAsync(
            (progressed, token) => StreamAsync(client, held, onState, onConnection, progressed, token),
            (lost, _) =>
            {
                var reason = lost switch
                {
                    null => "the control plane ended the stream",
                    RpcException rpc => $"{rpc.StatusCode}: {rpc.Status.Detail}",
                    _ => lost.Message,
                };
                onConnection(false, reason);
                if (lost is not null)
                {
                    Log.Lost(logger, nodeId, reason);
                }
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One stream, until it ends or breaks; <paramref name="progressed"/> once a response arrives.</summary>
    private async Task StreamAsync(Ads.AggregatedDiscoveryServiceClient client, Dictionary<string, Dictionary<string, XdsResource>> held, Action<Snapshot> onState, Action<bool, string?> onConnection, Action progressed, CancellationToken cancellationToken)
    {
        using var call = client.DeltaAggregatedResources(cancellationToken: cancellationToken);
        Node? node = new() { Id = nodeId, UserAgentName = "zenmesh" };
        foreach (var typeUrl in typeUrls)
        {
            var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResourceNamesSubscribe = { "*" }, Node = node };
            node = null;
            if (held.TryGetValue(typeUrl, out var resources))
            {
                request.InitialResourceVersions.Add(resources.ToDictionary(r => r.Key, r => r.Value.Version));
            }
            await call.RequestStream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
        }
        await call.ResponseHeadersAsync.ConfigureAwait(false);
        onConnection(true, null);
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            progressed();
            var before = held.TryGetValue(response.TypeUrl, out var previous) ? previous : null;
            var resources = before is null ? new Dictionary<string, XdsResource>(StringComparer.Ordinal) : new Dictionary<string, XdsResource>(before, StringComparer.Ordinal);
            var reply = new DeltaDiscoveryRequest { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce };
            // Applied first, then ACKed: what the service cannot apply is NACKed with the reason,
            // and it keeps the state it had (the control plane records the NACK and does not resend).
            try
            {
                foreach (var name in response.RemovedResources)
                {
                    resources.Remove(name);
                }
                foreach (var resource in response.Resources.Where(r => r.Resource_ is not null))
                {
                    resources[resource.Name] = XdsResource.FromAny(resource.Name, resource.Resource_, resource.Ttl?.ToTimeSpan());
                }
                held[response.TypeUrl] = resources;
                onState(Snapshot.Create(held.Values.SelectMany(r => r.Values), $"xds {nodeId}"));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (before is null)
                {
                    held.Remove(response.TypeUrl);
                }
                else
                {
                    held[response.TypeUrl] = before;
                }
                reply.ErrorDetail = new Google.Rpc.Status { Code = (int)StatusCode.InvalidArgument, Message = $"{e.GetType().Name}: {e.Message}" };
                Log.Refused(logger, nodeId, response.TypeUrl, e.Message);
            }
            await call.RequestStream.WriteAsync(reply, cancellationToken).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1112, Level = LogLevel.Error, Message = "node '{Node}' could not apply the control plane's {TypeUrl} ({Reason}); NACKed it and kept the config it had")]
        public static partial void Refused(ILogger logger, string node, string typeUrl, string reason);

        [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "no xDS stream for node '{Node}' ({Reason}); keeping the config already held, retrying")]
        public static partial void Lost(ILogger logger, string node, string reason);
    }
}
