using System.Text.Json;
using Envoy.Config.Core.V3;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.XdsServer.Evidence;

/// <summary>
/// Writes edges' ACKs and NACKs to the evidence ledger, each edge within its <see cref="LedgerRateLimit"/>.
/// Nodes that are not edges ("tenant/edge") are not recorded.
/// </summary>
public sealed class LedgerXdsEventSink(EvidenceLedger ledger, TimeProvider time) : IXdsEventSink
{
    private readonly LedgerRateLimit _limit = new(time);

    public void Acked(Node node, string typeUrl, string version)
    {
        if (TenantOf(node.Id) is { } tenant && _limit.TryTake(node.Id, out var dropped))
        {
            ledger.Record(tenant, "ack", node.Id, TypeUrls.ShortName(typeUrl), JsonSerializer.Serialize(new { typeUrl, version, droppedBefore = dropped > 0 ? dropped : (long?)null }));
        }
    }

    public void Nacked(NackRecord nack)
    {
        if (TenantOf(nack.NodeId) is { } tenant && _limit.TryTake(nack.NodeId, out var dropped))
        {
            ledger.Record(tenant, "nack", nack.NodeId, TypeUrls.ShortName(nack.TypeUrl), JsonSerializer.Serialize(new { typeUrl = nack.TypeUrl, version = nack.Version, message = nack.Message, code = nack.Code, droppedBefore = dropped > 0 ? dropped : (long?)null }));
        }
    }

    private static string? TenantOf(string nodeId) => nodeId.IndexOf('/', StringComparison.Ordinal) is > 0 and var slash ? nodeId[..slash] : null;
}
