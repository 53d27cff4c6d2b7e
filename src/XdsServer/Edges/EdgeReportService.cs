using Grpc.Core;
using ZenMesh.Contracts.V1;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Edges;

/// <summary>Takes edge agents' reports; with mutual TLS an agent may report only for its own edge.</summary>
internal sealed class EdgeReportService(EdgeReportStore reports, INodeAuthorizer authorizer, DesiredStateStore desired, TimeProvider time) : EdgeReports.EdgeReportsBase
{
    public const int ReportSeconds = 30;

    public override Task<EdgeReportAck> Report(EdgeReport request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.NodeId))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "node_id is empty: report as the edge's node, \"{tenant}/{edge}\"."));
        }
        authorizer.Authorize(context, request.NodeId);
        if (!desired.Current.Edges.ContainsKey(request.NodeId))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, $"Edge '{request.NodeId}' is not declared on this control plane; create it (PUT /api/v1/edges/<name>) or fix the agent's --edge."));
        }
        reports.Save(request, time.GetUtcNow());
        return Task.FromResult(new EdgeReportAck { NextReportSeconds = ReportSeconds });
    }
}
