using System.Collections.Immutable;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>
/// State-of-the-world xDS on one stream (ADS, or one per-type service). Each request is answered at
/// most once, when the version the client should hold differs from what it was last sent, when its
/// subscription grew, or when it is the first request of its type on this stream.
/// </summary>
internal sealed class SotwStream(
    XdsStreamDependencies deps,
    string? fixedTypeUrl,
    IAsyncStreamReader<DiscoveryRequest> requests,
    IServerStreamWriter<DiscoveryResponse> responses,
    ServerCallContext context)
    : XdsStream<DiscoveryRequest, DiscoveryResponse>(deps, fixedTypeUrl is null ? "sotw-ads" : "sotw", fixedTypeUrl, requests, responses, context)
{
    private readonly SortedDictionary<int, SotwTypeState> _types = new();

    /// <summary>CDS currently keeps clusters the snapshot dropped; any ACK may let them go.</summary>
    private bool _retainingClusters;

    protected override Node? NodeOf(DiscoveryRequest request) => request.Node;

    protected override string TypeUrlOf(DiscoveryRequest request) => request.TypeUrl;

    protected override bool Handle(DiscoveryRequest request, string typeUrl)
    {
        var state = StateFor(_types, typeUrl, t => new SotwTypeState(t));
        var nonce = request.ResponseNonce;
        if (nonce.Length > 0 && nonce != state.LastSentNonce)
        {
            // A request that answers an older response is superseded by one still in flight.
            Log.StaleNonce(Logger, StreamId, typeUrl, nonce, state.LastSentNonce);
            return false;
        }
        if (request.ErrorDetail is { } error)
        {
            state.LastNack = RecordNack(typeUrl, state.LastSentVersion ?? "", nonce, error);
            state.AckedVersion = request.VersionInfo.Length > 0 ? request.VersionInfo : null;
        }
        else if (nonce.Length > 0 && request.VersionInfo != state.LastSentVersion)
        {
            // Not an ACK: it answers the latest response but claims a version that response did
            // not carry. Recording it would let a client forge evidence of config it never got.
            Log.AckOfUnsentVersion(Logger, StreamId, typeUrl, request.VersionInfo, state.LastSentVersion);
        }
        else if (nonce.Length > 0)
        {
            if (request.VersionInfo != state.AckedVersion)
            {
                Deps.Events.Acked(Node!, typeUrl, request.VersionInfo);
                Deps.Registry.RecordAck(state.LastSentAt, Deps.Time.GetUtcNow());
            }
            state.AckedVersion = request.VersionInfo;
        }
        else
        {
            // First request of this type on this stream: what it holds came from an earlier stream, if any.
            state.AckedVersion = request.VersionInfo.Length > 0 ? request.VersionInfo : null;
            state.ForceSend = true;
            state.Asked = true;
        }
        if (state.Subscribe(request.ResourceNames))
        {
            state.ForceSend = true;
            state.Asked = true;
        }
        state.Open = true;
        // An ACK of what is current needs no push pass, unless something (this or a type it held back) waits.
        return _retainingClusters || _types.Values.Any(t => t.Pending || t.Asked);
    }

    protected override async Task PushAsync(Snapshot snapshot, CancellationToken cancellationToken)
    {
        IDisposable? slot = null;
        try
        {
            // Ascending rank is the make-before-break order: SDS, CDS, EDS, LDS, RDS. A type with a
            // change that still waits for the ACK of its previous response holds back every later
            // type, so a route never arrives before the cluster it names. Names a client has just asked
            // for are answered at once: it is warming them (a new cluster waiting for its endpoints).
            var resolved = new Dictionary<SotwTypeState, (ImmutableArray<XdsResource> Resources, string Version)>();
            foreach (var state in _types.Values)
            {
                resolved[state] = state.Resolve(snapshot.Get(state.TypeUrl));
                state.Desire(resolved[state].Version);
            }
            RetainClustersStillRouted(resolved);
            var heldBack = false;
            foreach (var state in _types.Values)
            {
                var (resources, version) = resolved[state];
                var subscribed = state.Wildcard || !state.Names.IsEmpty;
                var pending = subscribed && (state.ForceSend || version != state.LastSentVersion);
                if (!pending || (heldBack && !state.Asked))
                {
                    continue;
                }
                if (!state.Open)
                {
                    heldBack = true;
                    continue;
                }
                slot ??= await Deps.PushGate.EnterAsync(cancellationToken).ConfigureAwait(false);
                var response = new DiscoveryResponse
                {
                    VersionInfo = version,
                    TypeUrl = state.TypeUrl,
                    Nonce = NextNonce(),
                    ControlPlane = Deps.Identity,
                };
                foreach (var resource in resources)
                {
                    response.Resources.Add(resource.Sotw);
                }
                await WriteAsync(response, cancellationToken).ConfigureAwait(false);
                state.Sent(version, response.Nonce, Deps.Time.GetUtcNow(), resources);
                Deps.Registry.RecordPush(state.TypeUrl);
                Log.ResponseSent(Logger, StreamId, state.TypeUrl, version, resources.Length, 0, response.Nonce);
                if (state.TypeUrl == TypeUrls.Cluster && _types.TryGetValue(TypeUrls.Rank(TypeUrls.Endpoint), out var endpoints))
                {
                    // Clusters re-warm after a CDS update and wait for EDS, changed or not.
                    endpoints.ForceSend = true;
                }
            }
            var now = Deps.Time.GetUtcNow();
            foreach (var state in _types.Values)
            {
                if (!state.Open || state.Pending || state.HeartbeatsDue(now) is not { } beats)
                {
                    continue;
                }
                // Rule 17: same version, each TTL resource as a Resource with no body.
                slot ??= await Deps.PushGate.EnterAsync(cancellationToken).ConfigureAwait(false);
                var heartbeat = new DiscoveryResponse { VersionInfo = state.LastSentVersion, TypeUrl = state.TypeUrl, Nonce = NextNonce(), ControlPlane = Deps.Identity };
                heartbeat.Resources.AddRange(beats.Select(r => r.SotwHeartbeat));
                await WriteAsync(heartbeat, cancellationToken).ConfigureAwait(false);
                state.HeartbeatSent(heartbeat.Nonce, now);
            }
        }
        finally
        {
            slot?.Dispose();
        }
    }

    /// <summary>
    /// Make before break for SotW, where a CDS response is the whole set and cannot remove "later":
    /// while this client's listeners or routes are not yet settled on the new snapshot, clusters it
    /// holds that the snapshot dropped are kept in CDS. Once LDS and RDS are sent and ACKed, the next
    /// pass sends CDS without them.
    /// </summary>
    private void RetainClustersStillRouted(Dictionary<SotwTypeState, (ImmutableArray<XdsResource> Resources, string Version)> resolved)
    {
        _retainingClusters = false;
        if (!_types.TryGetValue(TypeUrls.Rank(TypeUrls.Cluster), out var clusters) || clusters.Held.IsEmpty)
        {
            return;
        }
        var routesUnsettled = _types.Values.Any(s => s.TypeUrl is TypeUrls.Listener or TypeUrls.Route && (s.Pending || s.AckedVersion != s.LastSentVersion));
        if (!routesUnsettled)
        {
            return;
        }
        var (current, _) = resolved[clusters];
        var names = current.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var dropped = clusters.Held.Where(r => !names.Contains(r.Name)).ToList();
        if (dropped.Count == 0)
        {
            return;
        }
        var union = current.Concat(dropped).OrderBy(r => r.Name, StringComparer.Ordinal).ToImmutableArray();
        var version = ContentHash.OfEntries(union.Select(r => (r.Name, r.Version)));
        resolved[clusters] = (union, version);
        clusters.Desire(version);
        _retainingClusters = true;
    }

    protected override TimeSpan? ShortestHeldTtl() => _types.Values.Select(s => s.ShortestTtl).Min();

    protected override ImmutableDictionary<string, TypeView> ViewTypes() =>
        _types.Values.ToImmutableDictionary(s => s.TypeUrl, s => s.View());
}
