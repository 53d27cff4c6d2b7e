using ZenMesh.Hosting;
using Microsoft.Extensions.Options;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Intake;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;
using ZenMesh.Metrics;
using ZenMesh.Xds.Client;

namespace ZenMesh.Egress.Api;

/// <summary>GET /metrics in Prometheus text: attempts by flow and outcome, their latency, dead letters by whose fault, and per flow what waits, what is in flight and under which limit.</summary>
public static class EgressMetrics
{
    public static void MapEgressMetrics(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", async (DeliveryCounters counters, DeliveryScheduler scheduler, IDeliveryStore store, IntakeStatus intake, FlowPolicies policies, ConfigStatus config, IOptions<EgressOptions> options, CancellationToken cancellationToken) =>
        {
            var pending = await store.PendingAsync(cancellationToken).ConfigureAwait(false);
            var lanes = scheduler.Lanes.OrderBy(l => FlowPolicies.Key(l.Tenant, l.Flow), StringComparer.Ordinal).ToList();
            // The target too, so concurrency per target is a sum away (several flows may deliver to one target).
            static (string, string)[] Flow(FlowLane lane) => [("flow", FlowPolicies.Key(lane.Tenant, lane.Flow)), ("target", lane.Policy.Target)];
            var text = new PrometheusText(("edge", options.Value.Edge))
                .Family("zenmesh_egress_attempts_total", "Delivery attempts, by flow and outcome (delivered, failed, retry_after, backpressure, gone, not_sent).", "counter",
                    counters.Attempts().Select(a => (new[] { ("flow", a.Flow), ("outcome", a.Outcome) }, (double)a.Count)))
                .Histogram("zenmesh_egress_attempt_latency_seconds", "From sending an attempt to its answer (including Envoy's or Polly's per-request retries).", counters.Latency)
                .Family("zenmesh_egress_dead_lettered_total", "Deliveries dead-lettered after their horizon, by flow and whose fault the last failure was (target or zenmesh).", "counter",
                    counters.DeadLetters().Select(d => (new[] { ("flow", d.Flow), ("fault", d.Fault) }, (double)d.Count)))
                .Family("zenmesh_egress_pending", "Deliveries waiting for their due time, by flow (including flows without config here).", "gauge",
                    pending.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (new[] { ("flow", p.Key) }, (double)p.Value)))
                .Family("zenmesh_egress_in_flight", "Attempts under way, by flow and its target.", "gauge", lanes.Select(l => (Flow(l), (double)l.InFlight)))
                .Family("zenmesh_egress_concurrency_limit", "The flow's current concurrency: halved on backpressure, back up by one per success.", "gauge", lanes.Select(l => (Flow(l), (double)l.Limit.Current)))
                .Family("zenmesh_egress_concurrency_max", "The flow's maxInFlight.", "gauge", lanes.Select(l => (Flow(l), (double)l.Limit.Max)))
                .Family("zenmesh_egress_flow_held", "1 while the flow is held after a 410 Gone.", "gauge", lanes.Select(l => (Flow(l), l.Held ? 1.0 : 0.0)))
                .Family("zenmesh_egress_flow_paused", "1 while the flow waits out a Retry-After.", "gauge", lanes.Select(l => (Flow(l), l.PausedUntil is null ? 0.0 : 1.0)))
                .Counter("zenmesh_egress_jobs_received_total", "Jobs taken from the ingester's stream, counting hand-outs again.", intake.Received)
                .Counter("zenmesh_egress_jobs_recorded_total", "Jobs new to this egress and recorded before being acknowledged.", intake.Recorded)
                .Gauge("zenmesh_egress_intake_connected", "1 while the job stream to the ingester is open.", intake.Connected ? 1 : 0)
                .Gauge("zenmesh_egress_flows", "Flows in the config being served.", policies.Count)
                .Gauge("zenmesh_egress_config_connected", "1 while the xDS stream for flow config is up.", config.Current.Connected ? 1 : 0);
            return Results.Text(text.ToString(), PrometheusText.ContentType);
        }).RequireAuthorization(ServiceAccess.LocalOrToken);
}
