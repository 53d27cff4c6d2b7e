using System.Globalization;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Api;

/// <summary>
/// The delivery log over HTTP: deliveries filtered by tenant, flow, state, event and time, one
/// delivery with every attempt, and resuming a flow held by a 410. A bad filter is a 400 that names
/// the parameter and what it accepts.
/// </summary>
public static class DeliveryApi
{
    public const int MostPerPage = 1000;

    public static void MapDeliveryApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/deliveries", async (HttpRequest request, IDeliveryStore store, CancellationToken cancellationToken) =>
        {
            if (QueryOf(request.Query, out var problem) is not { } query)
            {
                return Problem(problem!);
            }
            var rows = await store.QueryAsync(query, cancellationToken).ConfigureAwait(false);
            return Results.Json(new
            {
                deliveries = rows.Select(r => Summary(r.Delivery)),
                next = rows.Count == query.Limit ? rows[^1].Seq.ToString(CultureInfo.InvariantCulture) : null,
            });
        });
        app.MapGet("/deliveries/{eventId}/{flow}", async (string eventId, string flow, IDeliveryStore store, CancellationToken cancellationToken) =>
        {
            var jobId = $"{eventId}/{flow}";
            if (await store.GetAsync(jobId, cancellationToken).ConfigureAwait(false) is not { } delivery)
            {
                return Results.Json(new { error = "not_found", detail = $"no delivery '{jobId}' at this egress; list them with GET /deliveries?flow={flow}" }, statusCode: 404);
            }
            var attempts = await store.AttemptsAsync(jobId, cancellationToken).ConfigureAwait(false);
            return Results.Json(new { delivery = Summary(delivery), attempts });
        });
        app.MapPost("/flows/{tenant}/{flow}/resume", async (string tenant, string flow, DeliveryScheduler scheduler, CancellationToken cancellationToken) =>
            await scheduler.ResumeAsync(tenant, flow, cancellationToken).ConfigureAwait(false)
                ? Results.Json(new { resumed = $"{tenant}/{flow}" })
                : Results.Json(new { error = "not_held", detail = $"flow '{tenant}/{flow}' is not held at this egress; GET /status lists the held ones" }, statusCode: 404));
    }

    private static IResult Problem(string detail) => Results.Json(new { error = "bad_query", detail }, statusCode: 400);

    /// <summary>What a delivery looks like in the log: everything but the payload.</summary>
    internal static object Summary(Storage.Delivery d) => new
    {
        jobId = d.JobId, webhookId = d.JobId, d.EventId, d.Tenant, d.Flow, d.Endpoint, d.EventType, d.ReceivedAt, d.State, d.Attempts,
        d.DueAt, d.FirstAttemptAt, d.RecordedAt, d.FinishedAt, d.LastStatus, d.LastOutcome, d.LastFault, bodyBytes = d.Body.Length,
    };

    /// <summary>The filter in a query string, or null with <paramref name="problem"/> naming what was wrong.</summary>
    internal static DeliveryQuery? QueryOf(IQueryCollection q, out string? problem)
    {
        problem = null;
        string? Text(string name) => q.TryGetValue(name, out var v) && v.ToString() is { Length: > 0 } s ? s : null;
        var state = Text("state");
        if (state is not null && !DeliveryStates.All.Contains(state))
        {
            problem = $"state '{state}' is not a delivery state; use one of {string.Join(", ", DeliveryStates.All)}.";
            return null;
        }
        DateTimeOffset? Time(string name, ref string? problem)
        {
            if (Text(name) is not { } text)
            {
                return null;
            }
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
            {
                return at;
            }
            problem ??= $"{name} '{text}' is not a time; use ISO 8601, e.g. 2026-11-23T10:00:00Z.";
            return null;
        }
        var since = Time("since", ref problem);
        var until = Time("until", ref problem);
        var limit = 100;
        if (Text("limit") is { } l && (!int.TryParse(l, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MostPerPage))
        {
            problem ??= $"limit '{l}' is not a page size; use 1 to {MostPerPage} (default 100).";
        }
        long after = 0;
        if (Text("after") is { } a && (!long.TryParse(a, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            problem ??= $"after '{a}' is not a page cursor; pass the 'next' of the previous page.";
        }
        if (problem is not null)
        {
            return null;
        }
        return new DeliveryQuery { Tenant = Text("tenant"), Flow = Text("flow"), State = state, EventId = Text("event"), Since = since, Until = until, Limit = limit, AfterSeq = after };
    }
}
