using ZenMesh.Hosting;
using System.Globalization;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Api;

/// <summary>
/// The delivery log over HTTP: deliveries filtered as <see cref="DeliveryFilter"/> reads it, one
/// delivery with every attempt, and resuming a flow held by a 410. A bad filter is a 400 that names
/// the parameter and what it accepts.
/// </summary>
public static class DeliveryApi
{
    public static void MapDeliveryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/deliveries", async (HttpRequest request, IDeliveryStore store, FlowPolicies policies, CancellationToken cancellationToken) =>
        {
            if (DeliveryFilter.Parse(request.Query, policies, paging: true, out var problem) is not { } query)
            {
                return Problem(problem!);
            }
            var rows = await store.QueryAsync(query, cancellationToken).ConfigureAwait(false);
            return Results.Json(new
            {
                deliveries = rows.Select(r => Summary(r.Delivery)),
                next = rows.Count == query.Limit ? rows[^1].Seq.ToString(CultureInfo.InvariantCulture) : null,
            });
        }).RequireAuthorization(ServiceAccess.Token);
        app.MapGet("/deliveries/{eventId}/{flow}", async (string eventId, string flow, IDeliveryStore store, CancellationToken cancellationToken) =>
        {
            var jobId = $"{eventId}/{flow}";
            if (await store.GetAsync(jobId, cancellationToken).ConfigureAwait(false) is not { } delivery)
            {
                return Results.Json(new { error = "not_found", detail = $"no delivery '{jobId}' at this egress; list them with GET /deliveries?flow={flow}" }, statusCode: 404);
            }
            var attempts = await store.AttemptsAsync(jobId, cancellationToken).ConfigureAwait(false);
            return Results.Json(new { delivery = Summary(delivery), attempts });
        }).RequireAuthorization(ServiceAccess.Token);
        app.MapPost("/flows/{tenant}/{flow}/resume", async (string tenant, string flow, DeliveryScheduler scheduler, CancellationToken cancellationToken) =>
            await scheduler.ResumeAsync(tenant, flow, cancellationToken).ConfigureAwait(false)
                ? Results.Json(new { resumed = $"{tenant}/{flow}" })
                : Results.Json(new { error = "not_held", detail = $"flow '{tenant}/{flow}' is not held at this egress; GET /status lists the held ones" }, statusCode: 404))
            .RequireAuthorization(ServiceAccess.Token);
    }

    internal static IResult Problem(string detail) => Results.Json(new { error = "bad_query", detail }, statusCode: 400);

    /// <summary>What a delivery looks like in the log: everything but the payload.</summary>
    internal static object Summary(Storage.Delivery d) => new
    {
        jobId = d.JobId, webhookId = d.JobId, d.EventId, d.Tenant, d.Flow, d.Endpoint, d.EventType, d.ReceivedAt, d.State, d.Attempts,
        d.DueAt, d.FirstAttemptAt, d.RecordedAt, d.FinishedAt, d.LastStatus, d.LastOutcome, d.LastFault, bodyBytes = d.Body.Length,
        // The W3C trace the ingester stored with the event: find its spans (or the sender's) in a trace backend.
        traceParent = d.Header("traceparent"),
    };
}
