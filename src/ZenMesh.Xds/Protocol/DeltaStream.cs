using System.Collections.Immutable;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>
/// Incremental xDS on one stream. Each response carries only what changed for the client; names that
/// do not exist (any more) go in removed_resources. Subscription changes are honoured even when the
/// request's nonce is stale; ACK/NACK only for the latest nonce.
/// </summary>
internal sealed class DeltaStream(
    XdsStreamDependencies deps,
    string? fixedTypeUrl,
    IAsyncStreamReader<DeltaDiscoveryRequest> requests,
    IServerStreamWriter<DeltaDiscoveryResponse> responses,
    ServerCallContext context)
    : XdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(deps, fixedTypeUrl is null ? "delta-ads" : "delta", fixedTypeUrl, requests, responses, context)
{
    private readonly SortedDictionary<int, DeltaTypeState> _types = new();
    private Snapshot _lastSnapshot = Snapshot.Empty;

    protected override Node? NodeOf(DeltaDiscoveryRequest request) => request.Node;

    protected override string TypeUrlOf(DeltaDiscoveryRequest request) => request.TypeUrl;

    protected override bool Handle(DeltaDiscoveryRequest request, string typeUrl)
    {
        var state = StateFor(_types, typeUrl, t => new DeltaTypeState(t));
        var nonce = request.ResponseNonce;
        if (nonce.Length > 0)
        {
            if (nonce != state.LastSentNonce)
            {
                Log.StaleNonce(Logger, StreamId, typeUrl, nonce, state.LastSentNonce);
            }
            else if (request.ErrorDetail is { } error)
            {
                // The rejected versions stay recorded as sent: they are not resent until they change.
                state.LastNack = RecordNack(typeUrl, state.LastSentVersion ?? "", nonce, error);
            }
            else
            {
                if (state.LastSentVersion is { } acked && acked != state.AckedVersion)
                {
                    Deps.Events.Acked(Node!, typeUrl, acked);
                    Deps.Registry.RecordAck(state.LastSentAt, Deps.Time.GetUtcNow());
                }
                state.AckedVersion = state.LastSentVersion;
            }
        }
        // ACKs and NACKs never call for a push in delta; subscription changes may.
        var first = !state.EverRequested;
        state.Subscribe(request.ResourceNamesSubscribe, request.ResourceNamesUnsubscribe, first ? request.InitialResourceVersions : null);
        return first || request.ResourceNamesSubscribe.Count > 0 || request.ResourceNamesUnsubscribe.Count > 0;
    }

    protected override async Task PushAsync(Snapshot snapshot, CancellationToken cancellationToken)
    {
        _lastSnapshot = snapshot;
        IDisposable? slot = null;
        var removals = new List<(DeltaTypeState State, string Version, List<string> Names)>();
        try
        {
            // Make before break: every upsert first, in push order (SDS, CDS, EDS, LDS, RDS); then every
            // removal, referrers first (LDS, RDS, CDS, EDS, SDS), so nothing is removed while still named.
            foreach (var state in _types.Values)
            {
                var (updated, removed, version) = state.Diff(snapshot.Get(state.TypeUrl));
                if (removed.Count > 0)
                {
                    removals.Add((state, version, removed));
                }
                if (updated.Count == 0)
                {
                    if (removed.Count == 0)
                    {
                        state.InSync(version);
                    }
                    continue;
                }
                slot ??= await Deps.PushGate.EnterAsync(cancellationToken).ConfigureAwait(false);
                await SendAsync(state, version, updated, [], cancellationToken).ConfigureAwait(false);
                if (state.TypeUrl == TypeUrls.Cluster)
                {
                    ResendEndpointsOf(updated);
                }
            }
            foreach (var (state, version, names) in removals.OrderBy(r => TypeUrls.RemovalRank(r.State.TypeUrl)))
            {
                slot ??= await Deps.PushGate.EnterAsync(cancellationToken).ConfigureAwait(false);
                await SendAsync(state, version, [], names, cancellationToken).ConfigureAwait(false);
            }
            var now = Deps.Time.GetUtcNow();
            foreach (var state in _types.Values)
            {
                if (state.HeartbeatsDue(now) is not { Count: > 0 } beats)
                {
                    continue;
                }
                // Rule 17: each TTL resource again with its version and no body.
                slot ??= await Deps.PushGate.EnterAsync(cancellationToken).ConfigureAwait(false);
                var heartbeat = new DeltaDiscoveryResponse { SystemVersionInfo = _lastSnapshot.Version, TypeUrl = state.TypeUrl, Nonce = NextNonce(), ControlPlane = Deps.Identity };
                heartbeat.Resources.AddRange(beats.Select(r => r.DeltaHeartbeat));
                await WriteAsync(heartbeat, cancellationToken).ConfigureAwait(false);
                state.HeartbeatSent(heartbeat.Nonce, now, beats);
            }
        }
        finally
        {
            slot?.Dispose();
        }
    }

    private async Task SendAsync(DeltaTypeState state, string version, List<XdsResource> updated, List<string> removed, CancellationToken cancellationToken)
    {
        var response = new DeltaDiscoveryResponse
        {
            // The version of the whole snapshot this response belongs to: a client holding every type
            // (the agent) knows its burst is complete when what it holds has this version.
            SystemVersionInfo = _lastSnapshot.Version,
            TypeUrl = state.TypeUrl,
            Nonce = NextNonce(),
            ControlPlane = Deps.Identity,
        };
        foreach (var resource in updated)
        {
            response.Resources.Add(resource.Delta);
        }
        response.RemovedResources.AddRange(removed);
        await WriteAsync(response, cancellationToken).ConfigureAwait(false);
        state.Sent(version, response.Nonce, Deps.Time.GetUtcNow(), updated, removed);
        Deps.Registry.RecordPush(state.TypeUrl);
        Log.ResponseSent(Logger, StreamId, state.TypeUrl, version, updated.Count, removed.Count, response.Nonce);
    }

    /// <summary>Updated clusters re-warm and wait for their endpoints: send those again even if unchanged.</summary>
    private void ResendEndpointsOf(List<XdsResource> clusters)
    {
        if (!_types.TryGetValue(TypeUrls.Rank(TypeUrls.Endpoint), out var endpoints))
        {
            return;
        }
        foreach (var cluster in clusters)
        {
            if (SnapshotConsistency.EdsNameOf(cluster.Body.Unpack<Cluster>()) is { } eds && endpoints.Known.ContainsKey(eds))
            {
                endpoints.MarkUnknown(eds);
            }
        }
    }

    protected override TimeSpan? ShortestHeldTtl() => _types.Values.Select(s => s.ShortestTtl).Min();

    protected override ImmutableDictionary<string, TypeView> ViewTypes() =>
        _types.Values.ToImmutableDictionary(s => s.TypeUrl, s => s.View(_lastSnapshot.Get(s.TypeUrl)));
}
