using ZenMesh.Hosting;
using ZenMesh.Xds.Client;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Handoff;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Intake;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Storage;
using ZenMesh.Metrics;

namespace ZenMesh.Ingester.Status;

/// <summary>GET /metrics in Prometheus text: what was accepted, refused (by reason), deduplicated; how long the store takes; what is waiting, for whom.</summary>
internal static class IngesterMetrics
{
    public static void MapIngesterMetrics(this IEndpointRouteBuilder app) =>
        app.MapGet("/metrics", (IntakeCounters intake, IEventStore store, HandoffCounters handoff, EndpointPolicies policies, ConfigStatus config, IOptions<IngesterOptions> options) =>
        {
            var outcomes = intake.Snapshot();
            var text = new PrometheusText(("edge", options.Value.Edge))
                .Counter("zenmesh_ingester_accepted_total", "Webhooks verified and durably stored.", intake.Get("accepted"))
                .Counter("zenmesh_ingester_duplicates_total", "Redeliveries of a stored event, answered 200 with Idempotent-Replay and not stored again.", intake.Get("duplicate"))
                .Counter("zenmesh_ingester_rejected_total", "Webhooks refused, by reason code.", "reason", outcomes.Where(o => !IntakeCounters.Stored.Contains(o.Key)))
                .Histogram("zenmesh_ingester_store_wait_seconds", "From handing a verified webhook to the store until it was committed (what the sender waits).", intake.StoreWait)
                .Histogram("zenmesh_ingester_store_commit_seconds", "One group commit: the batch's transaction including fsync.", store.Commits)
                .Gauge("zenmesh_ingester_queue_depth", "Verified webhooks waiting for their commit (503 above Ingester:MaxPending).", store.Pending)
                .Gauge("zenmesh_ingester_queue_limit", "Ingester:MaxPending.", options.Value.MaxPending)
                .Gauge("zenmesh_ingester_bodies_arriving", "Webhooks whose body is still arriving.", intake.BodiesBeingRead)
                .Gauge("zenmesh_ingester_body_bytes_held", "Bytes set aside for bodies still arriving (they grow with what arrived, not what was announced).", intake.BodyBytesHeld)
                .Gauge("zenmesh_ingester_open_jobs", "Delivery jobs stored and not yet acknowledged by an egress.", store.OpenJobs)
                .Gauge("zenmesh_ingester_subscribers", "Egress streams open on Events/Subscribe.", handoff.Subscribers)
                .Gauge("zenmesh_ingester_subscribers_at_limit", "Egress streams holding as many unacknowledged jobs as they asked for (max_unacked): handed nothing more until they acknowledge.", handoff.SubscribersAtLimit)
                .Counter("zenmesh_ingester_jobs_leased_total", "Jobs handed to egresses, counting hand-outs again after a lease ran out.", handoff.LeasedTotal)
                .Counter("zenmesh_ingester_jobs_acked_total", "Jobs acknowledged by egresses.", handoff.AckedTotal)
                .Gauge("zenmesh_ingester_endpoints", "Endpoints in the config being served.", policies.Count)
                .Gauge("zenmesh_ingester_config_connected", "1 while the xDS stream for endpoint config is up.", config.Current.Connected ? 1 : 0);
            return Results.Text(text.ToString(), PrometheusText.ContentType);
        }).RequireAuthorization(ServiceAccess.LocalOrToken);
}
