using ZenMesh.Hosting;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Replays;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Api;

/// <summary>
/// Replay by query over HTTP. POST /replays takes the delivery log's filters (one event, a flow's
/// dead letters, a flow or target over a time range...); with dryRun=true it only counts, per flow
/// and state. GET /replays/{id} shows progress, DELETE /replays/{id} cancels.
/// </summary>
public static class ReplayApi
{
    public static void MapReplayApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/replays", async (HttpRequest request, IDeliveryStore store, FlowPolicies policies, DeliveryScheduler scheduler, ReplayRunner runner, CancellationToken cancellationToken) =>
        {
            if (DeliveryFilter.Parse(request.Query, policies, paging: false, out var problem) is not { } filter)
            {
                return DeliveryApi.Problem(problem!);
            }
            if (!Flag(request.Query, "all", out var all) || !Flag(request.Query, "dryRun", out var dryRun))
            {
                return DeliveryApi.Problem("all and dryRun take true or false.");
            }
            if (filter.SelectsEverything && !all)
            {
                return DeliveryApi.Problem("a replay with no filter would queue every delivery at this egress again; narrow it (event, flow, target, state, fault, since, until) or pass all=true if that is what you mean.");
            }
            if (dryRun)
            {
                var counts = await store.CountAsync(filter, cancellationToken).ConfigureAwait(false);
                var held = scheduler.Lanes.Where(l => l.Held).Select(l => FlowPolicies.Key(l.Tenant, l.Flow)).ToHashSet(StringComparer.Ordinal);
                return Results.Json(new
                {
                    dryRun = true,
                    matched = counts.Sum(c => c.Count),
                    flows = counts.GroupBy(c => c.Flow).Select(g => new
                    {
                        flow = g.Key,
                        matched = g.Sum(c => c.Count),
                        states = g.ToDictionary(c => c.State, c => c.Count),
                        // Replayed deliveries of these wait: a held flow until resumed, an unconfigured one until its config arrives.
                        held = held.Contains(g.Key),
                        configured = policies.All.ContainsKey(g.Key),
                    }),
                });
            }
            var replay = await runner.BeginAsync(filter, cancellationToken).ConfigureAwait(false);
            return Results.Json(await ViewAsync(replay, store, cancellationToken).ConfigureAwait(false), statusCode: 202);
        }).RequireAuthorization(ServiceAccess.Token);
        app.MapGet("/replays", async (IDeliveryStore store, CancellationToken cancellationToken) =>
            Results.Json(new { replays = (await store.ReplaysAsync(cancellationToken).ConfigureAwait(false)).Select(r => Summary(r, progress: null)) }))
            .RequireAuthorization(ServiceAccess.Token);
        app.MapGet("/replays/{id}", async (string id, IDeliveryStore store, CancellationToken cancellationToken) =>
            await store.GetReplayAsync(id, cancellationToken).ConfigureAwait(false) is { } replay
                ? Results.Json(await ViewAsync(replay, store, cancellationToken).ConfigureAwait(false))
                : NotFound(id))
            .RequireAuthorization(ServiceAccess.Token);
        app.MapDelete("/replays/{id}", async (string id, IDeliveryStore store, ReplayRunner runner, CancellationToken cancellationToken) =>
            await runner.CancelAsync(id, cancellationToken).ConfigureAwait(false) is { } replay
                ? Results.Json(await ViewAsync(replay, store, cancellationToken).ConfigureAwait(false))
                : NotFound(id))
            .RequireAuthorization(ServiceAccess.Token);
    }

    private static IResult NotFound(string id) => Results.Json(new { error = "not_found", detail = $"no replay '{id}' at this egress; GET /replays lists them" }, statusCode: 404);

    private static bool Flag(IQueryCollection q, string name, out bool value)
    {
        value = false;
        return !q.TryGetValue(name, out var v) || v.ToString() is not { Length: > 0 } text || bool.TryParse(text, out value);
    }

    /// <summary>A replay with how the deliveries it queued stand now.</summary>
    private static async Task<object> ViewAsync(Replay replay, IDeliveryStore store, CancellationToken cancellationToken)
    {
        var counts = await store.CountAsync(new DeliveryQuery { Replay = replay.Id }, cancellationToken).ConfigureAwait(false);
        return Summary(replay, DeliveryStates.All.ToDictionary(s => s, s => counts.Where(c => c.State == s).Sum(c => c.Count), StringComparer.Ordinal));
    }

    private static object Summary(Replay r, IReadOnlyDictionary<string, long>? progress) => new
    {
        r.Id, r.State, r.Matched, r.Queued, r.Withdrawn, r.CreatedAt, r.FinishedAt,
        filter = new { r.Filter.Tenant, r.Filter.Flow, r.Filter.Flows, r.Filter.State, r.Filter.Fault, @event = r.Filter.EventId, r.Filter.Since, r.Filter.Until },
        // The deliveries this replay queued, by where they stand now.
        deliveries = progress,
        links = new { self = $"/replays/{r.Id}", deliveries = $"/deliveries?replay={r.Id}" },
    };
}
