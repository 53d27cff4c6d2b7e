using ZenMesh.Hosting;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Metrics;
using ZenMesh.Xds.Status;

namespace ZenMesh.Agent.Status;

/// <summary>GET /status: the edge's staleness (version, age, whether the control plane is reachable) and its local clients.</summary>
internal static class StatusEndpoints
{
    public static void MapAgentStatus(this IEndpointRouteBuilder app)
    {
        // Prometheus text format: the same staleness, for alerting (a warning, never an outage).
        app.MapGet("/metrics", (AgentStatus status, ClientRegistry clients, ISnapshotCache cache, IOptions<AgentOptions> options, TimeProvider time) =>
        {
            var s = status.Current;
            var o = options.Value;
            var stale = status.Staleness(s);
            var text = new PrometheusText(("edge", o.Edge ?? ""))
                .Gauge("zenmesh_agent_control_plane_reachable", "1 while the agent holds a stream to the control plane.", s.Connected ? 1 : 0)
                .Gauge("zenmesh_agent_config_stale_seconds", "How long the served config has gone unconfirmed by the control plane (0 while connected).", Math.Round(stale.TotalSeconds, 3))
                .Gauge("zenmesh_agent_config_stale", "1 once the staleness passes Agent:StalenessBound.", stale > o.StalenessBound ? 1 : 0)
                .Gauge("zenmesh_agent_config_age_seconds", "Since the served config was received from the control plane.", s.ReceivedAt is { } at ? Math.Round((time.GetUtcNow() - at).TotalSeconds, 3) : -1)
                .Gauge("zenmesh_agent_config_generation", "Sequence number of the stored generation being served.", s.Generation)
                .Gauge("zenmesh_agent_local_clients", "Local xDS streams (Envoy, Ingester, Egress).", clients.Clients().Count)
                .Gauge("zenmesh_agent_missing_secrets", "Secrets the edge's config names that its secret store lacks.", SecretInventory.Missing(cache.Current(""), o.SecretsDir).Count);
            return Results.Text(text.ToString(), PrometheusText.ContentType);
        }).RequireAuthorization(ServiceAccess.LocalOrToken);

        app.MapGet("/status", (AgentStatus status, ClientRegistry clients, ISnapshotCache cache, Identity.CredentialHolder credentials, IOptions<AgentOptions> options, TimeProvider time) =>
        {
            var s = status.Current;
            var o = options.Value;
            var stale = status.Staleness(s);
            return Results.Json(new
            {
                edge = o.Edge,
                controlPlane = new { address = o.ControlPlane, reachable = s.Connected, lastContact = s.LastContact, lastError = s.LastError },
                config = new
                {
                    version = s.Version,
                    source = s.Source,
                    generation = s.Generation,
                    receivedAt = s.ReceivedAt,
                    ageSeconds = s.ReceivedAt is { } at ? Math.Round((time.GetUtcNow() - at).TotalSeconds, 3) : (double?)null,
                    resources = s.Summary,
                },
                secrets = new { directory = o.SecretsDir, missing = SecretInventory.Missing(cache.Current(""), o.SecretsDir) },
                lastLocalNack = s.LastLocalRejection is { } r ? new { node = r.NodeId, type = TypeUrls.ShortName(r.TypeUrl), message = r.Message, at = r.At } : null,
                credential = credentials.Current is { } c ? new { serial = c.Serial, notAfter = c.NotAfter, renewAt = c.RenewAt } : null,
                staleSeconds = Math.Round(stale.TotalSeconds, 3),
                staleAfterSeconds = o.StalenessBound.TotalSeconds,
                stale = stale > o.StalenessBound,
                clients = clients.Clients().Select(c => new
                {
                    node = c.Node.Id,
                    kind = c.Kind,
                    types = c.Types.Values.Select(t => new { type = TypeUrls.ShortName(t.TypeUrl), sent = t.LastSentVersion, acked = t.AckedVersion, status = t.State.ToString().ToUpperInvariant() }),
                }),
            });
        }).RequireAuthorization(ServiceAccess.LocalOrToken);
    }
}
