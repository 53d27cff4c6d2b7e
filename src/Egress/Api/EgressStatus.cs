using ZenMesh.Hosting;
using Microsoft.Extensions.Options;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Intake;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;
using ZenMesh.Xds.Client;

namespace ZenMesh.Egress.Api;

/// <summary>GET /status: how the egress delivers (Envoy or direct), its config and job stream, and each flow: counts, concurrency, pauses and holds.</summary>
public static class EgressStatus
{
    /// <param name="health">Where /healthz is served: the API's listener, or a probe's own.</param>
    public static void MapEgressStatus(this IEndpointRouteBuilder app, IEndpointRouteBuilder health)
    {
        health.MapGet("/healthz", () => Results.Json(new { status = "ok" })).AllowAnonymous();
        app.MapGet("/status", async (FlowPolicies policies, DeliveryScheduler scheduler, IDeliveryStore store, IntakeStatus intake, ConfigStatus config, DeliveryCounters counters, IOptions<EgressOptions> options, CancellationToken cancellationToken) =>
        {
            var counts = await store.CountsAsync(cancellationToken).ConfigureAwait(false);
            var holds = (await store.HoldsAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(h => FlowPolicies.Key(h.Tenant, h.Flow), StringComparer.Ordinal);
            var lanes = scheduler.Lanes.ToDictionary(l => FlowPolicies.Key(l.Tenant, l.Flow), StringComparer.Ordinal);
            var none = DeliveryStates.All.ToDictionary(s => s, _ => 0L);
            return Results.Json(new
            {
                mode = options.Value.Direct ? "direct" : $"envoy {options.Value.Envoy}",
                store = store.Location,
                config = config.Current,
                intake = new { ingester = options.Value.Ingester, intake.Connected, intake.LastError, intake.Received, intake.Recorded },
                deadLettered = counters.Dead,
                flows = policies.All.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new
                {
                    flow = p.Key,
                    target = p.Value.Target,
                    targetUrl = p.Value.TargetUrl,
                    enabled = p.Value.Enabled,
                    orderingKey = p.Value.OrderingKey.Length > 0 ? p.Value.OrderingKey : null,
                    held = holds.TryGetValue(p.Key, out var hold) ? new { hold.Reason, hold.At, waiting = lanes.GetValueOrDefault(p.Key)?.HeldBack } : null,
                    pausedUntil = lanes.GetValueOrDefault(p.Key)?.PausedUntil,
                    concurrency = lanes.GetValueOrDefault(p.Key) is { } lane ? new { current = lane.Limit.Current, max = lane.Limit.Max, inFlight = lane.InFlight } : null,
                    deliveries = counts.GetValueOrDefault(p.Key) ?? none,
                }),
                // Jobs of flows this edge no longer (or not yet) has config for: kept, not attempted.
                unconfigured = counts.Where(c => !policies.All.ContainsKey(c.Key)).ToDictionary(c => c.Key, c => c.Value),
            });
        }).RequireAuthorization(ServiceAccess.LocalOrToken);
    }
}
