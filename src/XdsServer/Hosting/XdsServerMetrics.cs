using ZenMesh.Metrics;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;

namespace ZenMesh.XdsServer.Hosting;

/// <summary>
/// GET /metrics on the admin port (Prometheus text): connected xDS clients and how their config
/// stands (synced, stale, NACKed), pushes and NACKs by type, the time from a push to its ACK, and
/// per edge (from the agents' reports to this replica) how stale what it serves is. It names every
/// tenant's nodes, so beyond loopback it needs the operator's token (<see cref="Auth.AccessPolicies.Metrics"/>).
/// </summary>
internal static class XdsServerMetrics
{
    public static IEndpointConventionBuilder MapXdsServerMetrics(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", (ClientRegistry registry, Edges.EdgeReportStore reports, TimeProvider time) =>
        {
            var clients = registry.Clients();
            var types = clients.SelectMany(c => c.Types.Values).ToList();
            var now = time.GetUtcNow();
            var edges = reports.ReceivedHere.OrderBy(r => r.Report.NodeId, StringComparer.Ordinal).ToList();
            var text = new PrometheusText()
                .Gauge("zenmesh_xds_connected_clients", "xDS streams open now (Envoys, agents, ingesters, egresses).", clients.Count)
                .Family("zenmesh_xds_client_types", "Subscribed types across connected clients, by sync state (synced, stale, nacked, not_sent).", "gauge",
                    Enum.GetValues<SyncState>().Select(state => (new[] { ("state", SyncStateName(state)) }, (double)types.Count(t => t.State == state))))
                .Family("zenmesh_xds_pushes_total", "Responses carrying new config, by type (heartbeats not counted).", "counter",
                    registry.Pushes.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (new[] { ("type", TypeUrls.ShortName(p.Key)) }, (double)p.Value)))
                .Family("zenmesh_xds_nacks_total", "Config rejected by a client, by type.", "counter",
                    registry.Nacks.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (new[] { ("type", TypeUrls.ShortName(p.Key)) }, (double)p.Value)))
                .Histogram("zenmesh_xds_push_ack_seconds", "From sending new config to the client's ACK of it.", registry.AckLatency)
                .Family("zenmesh_xds_edge_stale_seconds", "How long the config an edge serves had gone unconfirmed, as its agent last reported (0 while connected).", "gauge",
                    edges.Select(e => (new[] { ("edge", e.Report.NodeId) }, e.Report.StaleSeconds)))
                .Family("zenmesh_xds_edge_report_age_seconds", "Since the edge's agent last reported here; it reports at least every 30 s while connected.", "gauge",
                    edges.Select(e => (new[] { ("edge", e.Report.NodeId) }, Math.Round((now - e.At).TotalSeconds, 3))));
            return Results.Text(text.ToString(), PrometheusText.ContentType);
        });

    private static string SyncStateName(SyncState state) => state switch
    {
        SyncState.NotSent => "not_sent",
        _ => state.ToString().ToLowerInvariant(),
    };
}
