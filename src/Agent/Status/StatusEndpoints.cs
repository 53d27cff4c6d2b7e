using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Xds.Status;

namespace ZenMesh.Agent.Status;

/// <summary>GET /status: the edge's staleness (version, age, whether the control plane is reachable) and its local clients.</summary>
internal static class StatusEndpoints
{
    public static void MapAgentStatus(this IEndpointRouteBuilder app)
    {
        app.MapGet("/status", (AgentStatus status, ClientRegistry clients, Identity.CredentialHolder credentials, IOptions<AgentOptions> options, TimeProvider time) =>
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
        });
    }
}
