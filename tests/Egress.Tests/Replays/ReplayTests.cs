using System.Net;
using System.Text.Json;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Replays;

/// <summary>
/// Replay by query over the egress API, through a real ingester and egress: a flow's dead letters
/// replayed once its target is fixed (dry run first, then progress to the end, same webhook-id),
/// one event replayed alone, a cancel putting back what was not attempted yet, and bad requests
/// answered with what to fix.
/// </summary>
public sealed class ReplayTests
{
    [Fact]
    public async Task DeadLetters_DryRunCountsThem_ThenReplayDeliversThem_WithTheSameWebhookId()
    {
        var broken = true;
        await using var target = await TestTarget.StartAsync((n, http) => TestTarget.Status(Volatile.Read(ref broken) ? 500 : 200)(n, http));
        await using var mesh = await Mesh.StartAsync(Mesh.ShortLived("orders", target.Url));
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await mesh.SendAsync($$"""{"type":"order.created","n":{{i}}}"""));
        }
        var attemptsBefore = new Dictionary<string, int>();
        foreach (var id in ids)
        {
            attemptsBefore[id] = (await mesh.WaitForAsync(id, "orders", DeliveryStates.Dead)).Attempts;
        }

        var (dryStatus, dry) = await mesh.SendApiAsync(HttpMethod.Post, "/replays?flow=orders&state=dead&dryRun=true");
        Assert.Equal(HttpStatusCode.OK, dryStatus);
        Assert.Equal(3, dry.GetProperty("matched").GetInt64());
        var flow = Assert.Single(dry.GetProperty("flows").EnumerateArray());
        Assert.Equal(("default/orders", 3L, true), (flow.GetProperty("flow").GetString(), flow.GetProperty("states").GetProperty("dead").GetInt64(), flow.GetProperty("configured").GetBoolean()));
        // A dry run changes nothing.
        Assert.Equal(DeliveryStates.Dead, (await mesh.Store.GetAsync($"{ids[0]}/orders", CancellationToken.None))!.State);

        Volatile.Write(ref broken, false);
        var (status, started) = await mesh.SendApiAsync(HttpMethod.Post, "/replays?flow=orders&state=dead");
        Assert.Equal(HttpStatusCode.Accepted, status);
        var replayId = started.GetProperty("id").GetString()!;
        Assert.Equal(3, started.GetProperty("matched").GetInt64());

        JsonElement progress = default;
        await TestTimeouts.Eventually(async () => (progress = await mesh.GetJsonAsync($"/replays/{replayId}")).GetProperty("deliveries").GetProperty("delivered").GetInt64() == 3, "the replay's three deliveries are delivered");
        Assert.Equal(("done", 3L), (progress.GetProperty("state").GetString(), progress.GetProperty("queued").GetInt64()));
        foreach (var id in ids)
        {
            var delivered = (await mesh.Store.GetAsync($"{id}/orders", CancellationToken.None))!;
            Assert.Equal(attemptsBefore[id] + 1, delivered.Attempts);
            var attempts = await mesh.Store.AttemptsAsync(delivered.JobId, CancellationToken.None);
            Assert.Equal(AttemptOutcomes.Delivered, attempts[^1].Outcome);
            Assert.All(attempts.SkipLast(1), a => Assert.Equal(AttemptOutcomes.Failed, a.Outcome));
        }
        var lastRequests = target.Requests.Where(r => r.Headers.ContainsKey("webhook-id")).GroupBy(r => r.Headers["webhook-id"]).ToList();
        Assert.Equal(ids.Select(id => $"{id}/orders").Order(), lastRequests.Select(g => g.Key).Order());
        var listed = await mesh.GetJsonAsync($"/deliveries?replay={replayId}");
        Assert.Equal(3, listed.GetProperty("deliveries").GetArrayLength());
        var all = await mesh.GetJsonAsync("/replays");
        Assert.Equal(replayId, Assert.Single(all.GetProperty("replays").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task OneEvent_IsReplayed_AndNothingElse()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("orders", target.Url));
        var first = await mesh.SendAsync("""{"type":"a","n":1}""");
        var second = await mesh.SendAsync("""{"type":"a","n":2}""");
        await mesh.WaitForAsync(first, "orders", DeliveryStates.Delivered);
        await mesh.WaitForAsync(second, "orders", DeliveryStates.Delivered);

        var (status, started) = await mesh.SendApiAsync(HttpMethod.Post, $"/replays?event={first}");

        Assert.Equal(HttpStatusCode.Accepted, status);
        await TestTimeouts.Eventually(() => Task.FromResult(target.Requests.Count == 3), "the replayed event arrives again");
        // Done means the replay has queued all it ever will: what arrived is final.
        var replayId = started.GetProperty("id").GetString()!;
        await TestTimeouts.Eventually(async () => (await mesh.GetJsonAsync($"/replays/{replayId}")).GetProperty("state").GetString() == "done", "the replay is done");
        Assert.Equal([$"{first}/orders", $"{first}/orders", $"{second}/orders"], target.Requests.Select(r => r.Headers["webhook-id"]).Order());
        Assert.Equal(1, started.GetProperty("matched").GetInt64());
        // The target counts a request when it arrives; the egress records the attempt after the answer.
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{first}/orders", CancellationToken.None)) is { Attempts: 2, State: DeliveryStates.Delivered }, "the replayed attempt is recorded");
        Assert.Equal(2, (await mesh.Store.GetAsync($"{first}/orders", CancellationToken.None))!.Attempts);
    }

    [Fact]
    public async Task Cancel_PutsBackWhatTheReplayQueuedAndNothingAttempted()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(503));
        var flow = Mesh.ShortLived("orders", target.Url);
        await using var mesh = await Mesh.StartAsync(flow);
        var ids = new List<string> { await mesh.SendAsync(), await mesh.SendAsync("""{"type":"b"}""") };
        var dead = new List<Storage.Delivery>();
        foreach (var id in ids)
        {
            dead.Add(await mesh.WaitForAsync(id, "orders", DeliveryStates.Dead));
        }
        // Without its config the flow has no lane, so what the replay queues stays unattempted.
        mesh.SetFlows();

        var (dryStatus, dry) = await mesh.SendApiAsync(HttpMethod.Post, "/replays?flow=orders&state=dead&dryRun=true");
        Assert.Equal(HttpStatusCode.OK, dryStatus);
        Assert.False(dry.GetProperty("flows")[0].GetProperty("configured").GetBoolean());
        var (_, started) = await mesh.SendApiAsync(HttpMethod.Post, "/replays?flow=orders&state=dead");
        var replayId = started.GetProperty("id").GetString()!;
        await TestTimeouts.Eventually(async () => (await mesh.GetJsonAsync($"/replays/{replayId}")).GetProperty("deliveries").GetProperty("pending").GetInt64() == 2, "both are queued");

        var (status, cancelled) = await mesh.SendApiAsync(HttpMethod.Delete, $"/replays/{replayId}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("cancelled", 2L), (cancelled.GetProperty("state").GetString(), cancelled.GetProperty("withdrawn").GetInt64()));
        foreach (var before in dead)
        {
            var after = (await mesh.Store.GetAsync(before.JobId, CancellationToken.None))!;
            Assert.Equal((before.State, before.Attempts, before.Failures, before.FirstAttemptAt, before.FinishedAt, before.DueAt),
                (after.State, after.Attempts, after.Failures, after.FirstAttemptAt, after.FinishedAt, after.DueAt));
        }
        // The flow back, taking one delivery at a time, oldest due first, then a new event behind
        // them: had the cancel left either dead delivery pending, it would be attempted before the new one.
        var oneAtATime = flow.Clone();
        oneAtATime.MaxInFlight = 1;
        mesh.SetFlows(oneAtATime);
        var behind = await mesh.SendAsync("""{"type":"behind"}""");
        await TestTimeouts.Eventually(async () => (await mesh.Store.AttemptsAsync($"{behind}/orders", CancellationToken.None)).Count > 0, "the new event's first attempt");
        foreach (var before in dead)
        {
            var after = (await mesh.Store.GetAsync(before.JobId, CancellationToken.None))!;
            Assert.Equal((DeliveryStates.Dead, before.Attempts), (after.State, after.Attempts));
        }
    }

    [Fact]
    public async Task ReplayStoredAsRunning_IsCarriedOn_WhenTheEgressStarts()
    {
        var broken = true;
        await using var target = await TestTarget.StartAsync((n, http) => TestTarget.Status(Volatile.Read(ref broken) ? 500 : 200)(n, http));
        await using var mesh = await Mesh.StartAsync(Mesh.ShortLived("orders", target.Url));
        var id = await mesh.SendAsync();
        await mesh.WaitForAsync(id, "orders", DeliveryStates.Dead);
        await mesh.StopEgressAsync();
        Volatile.Write(ref broken, false);
        // What an egress stopped mid-replay leaves behind: a replay stored as running, its cursor short of the end.
        await using (var store = new SqliteDeliveryStore(Microsoft.Extensions.Options.Options.Create(new Hosting.EgressOptions { DataDir = mesh.DataDir })))
        {
            await store.CreateReplayAsync("rpl_interrupted", new DeliveryQuery { Flow = "orders", State = DeliveryStates.Dead }, DateTimeOffset.UtcNow, CancellationToken.None);
        }

        await mesh.StartEgressAsync();

        await mesh.WaitForAsync(id, "orders", DeliveryStates.Delivered);
        var replay = await mesh.GetJsonAsync("/replays/rpl_interrupted");
        Assert.Equal(("done", 1L), (replay.GetProperty("state").GetString(), replay.GetProperty("queued").GetInt64()));
    }

    [Theory]
    [InlineData("", "all=true")]
    [InlineData("?target=nowhere", "target 'nowhere'")]
    [InlineData("?flow=orders&limit=10", "limit and after")]
    [InlineData("?fault=ours", "fault 'ours'")]
    [InlineData("?flow=orders&dryRun=maybe", "dryRun")]
    [InlineData("?since=2026-11-23T10:00:00Z&until=2026-11-23T09:00:00Z", "until")]
    public async Task BadReplayRequest_Is400_SayingWhatToFix_AndQueuesNothing(string query, string hint)
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("orders", target.Url));

        var (status, body) = await mesh.SendApiAsync(HttpMethod.Post, "/replays" + query);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(hint, body.GetProperty("detail").GetString());
        Assert.Empty((await mesh.GetJsonAsync("/replays")).GetProperty("replays").EnumerateArray());
    }

    [Fact]
    public async Task UnknownReplay_Is404()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("orders", target.Url));

        Assert.Equal(HttpStatusCode.NotFound, (await mesh.SendApiAsync(HttpMethod.Get, "/replays/rpl_nope")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mesh.SendApiAsync(HttpMethod.Delete, "/replays/rpl_nope")).Status);
    }
}
