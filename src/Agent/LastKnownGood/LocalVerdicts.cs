using System.Collections.Concurrent;
using Envoy.Config.Core.V3;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Status;
using ZenMesh.Agent.Upstream;
using ZenMesh.Xds.Status;

namespace ZenMesh.Agent.LastKnownGood;

/// <summary>
/// What the local clients (Envoy above all) make of the config the agent serves. An ACK remembers
/// the snapshot the client accepted; a NACK pins that client to the last snapshot it accepted for
/// the type, takes the rejected generation out of last-known-good (so a restart never serves it),
/// and reports the rejection upstream. A new version from the control plane lifts every pin.
/// </summary>
internal sealed partial class LocalVerdicts(ISnapshotCache cache, INodeHash nodeHash, GenerationStore store, UpstreamReports reports, AgentStatus status, TimeProvider time, ILogger<LocalVerdicts> logger) : IXdsEventSink
{
    private readonly ConcurrentDictionary<(string Node, string TypeUrl), Snapshot> _accepted = new();
    private readonly ConcurrentDictionary<string, byte> _pinned = new(StringComparer.Ordinal);

    public void Acked(Node node, string typeUrl, string version) =>
        _accepted[(nodeHash.KeyOf(node), typeUrl)] = cache.Current(nodeHash.KeyOf(node));

    public void Nacked(NackRecord nack)
    {
        var rejected = cache.Current("");
        var rejection = new LocalRejection(nack.NodeId, nack.TypeUrl, nack.Message, time.GetUtcNow());
        status.Rejected(rejection);
        reports.Report(rejection);
        if (store.Reject(rejected.Version) is { } file)
        {
            Log.Rejected(logger, nack.NodeId, TypeUrls.ShortName(nack.TypeUrl), rejected.Version, nack.Message, file);
        }
        if (_accepted.TryGetValue((nack.NodeId, nack.TypeUrl), out var accepted) && accepted.Version != rejected.Version)
        {
            if (cache.Publish(nack.NodeId, accepted).Accepted)
            {
                _pinned[nack.NodeId] = 0;
            }
        }
    }

    /// <summary>The control plane sent a new version: every client gets it, whatever it rejected before.</summary>
    public void LiftPins()
    {
        foreach (var node in _pinned.Keys)
        {
            _pinned.TryRemove(node, out _);
            cache.Clear(node);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.LocalNack, Level = LogLevel.Warning, Message = "local client '{Node}' rejected {Type} of version {Version}: {Message}. It keeps the config it last accepted; {File} is no longer last-known-good; the rejection is reported to the control plane")]
        public static partial void Rejected(ILogger logger, string node, string type, string version, string message, string file);
    }
}
