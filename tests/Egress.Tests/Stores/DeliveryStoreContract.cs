using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Replays;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Stores;

// ZenMesh.Egress.Tests.Delivery (a namespace) would hide the record otherwise.
using Delivery = ZenMesh.Egress.Storage.Delivery;

/// <summary>
/// What every delivery store does, tested once and run against each (<see cref="SqliteDeliveryStoreTests"/>,
/// <see cref="PostgresDeliveryStoreTests"/>): recording is idempotent, due deliveries come earliest
/// first and respect ordering keys, an attempt moves its delivery on and is logged, holds end with a
/// resume, the log filters, and a replay takes exactly what matched when asked, batch by batch, and
/// a cancel puts back what it had queued.
/// </summary>
public abstract class DeliveryStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset Now = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    protected static readonly TimeSpan Claim = TimeSpan.FromMinutes(1);
    private static readonly IReadOnlySet<string> None = new HashSet<string>();

    protected IDeliveryStore Store { get; private set; } = null!;

    /// <summary>A store over the same deliveries as every other one this test opened.</summary>
    protected abstract Task<IDeliveryStore> OpenAsync();

    protected virtual Task CleanUpAsync() => Task.CompletedTask;

    public async Task InitializeAsync()
    {
        if (this is not INeedsPostgres || LocalPostgres.Unavailable is null)
        {
            Store = await OpenAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (Store is not null)
        {
            await Store.DisposeAsync();
        }
        await CleanUpAsync();
    }

    protected static List<DeliveryJob> Jobs(string flow, int from, int count, DateTimeOffset? received = null) =>
        [.. Enumerable.Range(from, count).Select(i => new DeliveryJob
        {
            JobId = $"ev_{i}/{flow}", EventId = $"ev_{i}", Flow = flow, Tenant = "default", Endpoint = "orders", EventType = "t",
            Body = ByteString.CopyFromUtf8($$"""{"n":{{i}}}"""), ReceivedAt = Timestamp.FromDateTimeOffset(received ?? Now), Headers = { ["content-type"] = "application/json" },
        })];

    protected static Task<IReadOnlyList<Delivery>> DueAsync(IDeliveryStore store, string flow, DateTimeOffset at, int max = 100, IReadOnlySet<string>? skip = null) =>
        store.DueAsync("default", flow, at, max, skip ?? None, Claim, CancellationToken.None);

    protected static AttemptResult Outcome(Delivery delivery, string state, DateTimeOffset at, DateTimeOffset due, int? status = 500, string? fault = Faults.Target) => new(
        new Attempt(delivery.JobId, delivery.Attempts + 1, at, status, 12.5, state == DeliveryStates.Delivered ? AttemptOutcomes.Delivered : AttemptOutcomes.Failed,
            state == DeliveryStates.Delivered ? null : fault, state == DeliveryStates.Delivered ? null : "HTTP 500", "oops", "direct"),
        state, due, CountsAsFailure: state != DeliveryStates.Delivered);

    [StoreFact]
    public async Task Record_IsIdempotent_AndDueComesEarliestFirst_WithoutWhatIsInFlight()
    {
        Assert.Equal(3, await Store.RecordAsync(Jobs("a", 0, 3), _ => null, Now, CancellationToken.None));
        Assert.Equal(1, await Store.RecordAsync(Jobs("a", 2, 2), _ => null, Now.AddSeconds(1), CancellationToken.None));

        var due = await DueAsync(Store, "a", Now.AddSeconds(1), skip: new HashSet<string> { "ev_1/a" });
        var notYet = await DueAsync(Store, "a", Now.AddMilliseconds(-1));

        Assert.Equal(["ev_0/a", "ev_2/a", "ev_3/a"], due.Select(d => d.JobId));
        Assert.Empty(notYet);
        var first = due[0];
        Assert.Equal(("ev_0", "default", "orders", "t", DeliveryStates.Pending, 0), (first.EventId, first.Tenant, first.Endpoint, first.EventType, first.State, first.Attempts));
        Assert.Equal("""{"n":0}""", System.Text.Encoding.UTF8.GetString(first.Body));
        Assert.Equal("application/json", first.Headers["content-type"]);
        Assert.Equal((Now, Now), (first.ReceivedAt, first.DueAt));
        Assert.Equal(Now, await Store.NextDueAsync("default", "a", CancellationToken.None));
        Assert.Null(await Store.NextDueAsync("default", "b", CancellationToken.None));
    }

    [StoreFact]
    public async Task FinishAttempt_LogsTheAttempt_AndMovesTheDeliveryOn()
    {
        await Store.RecordAsync(Jobs("a", 0, 2), _ => null, Now, CancellationToken.None);
        var delivery = (await DueAsync(Store, "a", Now, max: 1)).Single();

        await Store.FinishAttemptAsync(Outcome(delivery, DeliveryStates.Pending, Now, Now.AddSeconds(5)), CancellationToken.None);
        var failed = (await Store.GetAsync(delivery.JobId, CancellationToken.None))!;
        Assert.Equal((DeliveryStates.Pending, 1, 1, Now.AddSeconds(5), Now, 500, Faults.Target), (failed.State, failed.Attempts, failed.Failures, failed.DueAt, failed.FirstAttemptAt, failed.LastStatus, failed.LastFault));
        Assert.Equal(["ev_1/a"], (await DueAsync(Store, "a", Now.AddSeconds(1))).Select(d => d.JobId));

        await Store.FinishAttemptAsync(Outcome(failed, DeliveryStates.Delivered, Now.AddSeconds(5), Now.AddSeconds(5), status: 200), CancellationToken.None);
        var delivered = (await Store.GetAsync(delivery.JobId, CancellationToken.None))!;
        var attempts = await Store.AttemptsAsync(delivery.JobId, CancellationToken.None);

        Assert.Equal((DeliveryStates.Delivered, 2, 1, Now, Now.AddSeconds(5)), (delivered.State, delivered.Attempts, delivered.Failures, delivered.FirstAttemptAt, delivered.FinishedAt));
        Assert.Equal([(1, 500, AttemptOutcomes.Failed, Faults.Target), (2, 200, AttemptOutcomes.Delivered, null)], attempts.Select(a => (a.Number, a.Status!.Value, a.Outcome, a.Fault)));
        Assert.Equal((12.5, "oops", "direct", "HTTP 500"), (attempts[0].LatencyMs, attempts[0].Snippet, attempts[0].Via, attempts[0].Detail));
        Assert.Equal(Now, attempts[0].At);
        Assert.Equal(1, (await Store.CountsAsync(CancellationToken.None))["default/a"][DeliveryStates.Delivered]);
        Assert.Equal(1, (await Store.PendingAsync(CancellationToken.None))["default/a"]);
    }

    [StoreFact]
    public async Task OrderingKey_OnlyTheOldestPendingDeliveryOfAKeyIsDue()
    {
        var jobs = Jobs("a", 0, 4);
        var keys = new Dictionary<string, string?> { ["ev_0/a"] = "x", ["ev_1/a"] = "x", ["ev_2/a"] = "y", ["ev_3/a"] = null };
        await Store.RecordAsync(jobs, j => keys[j.JobId], Now, CancellationToken.None);

        Assert.Equal(["ev_0/a", "ev_2/a", "ev_3/a"], (await DueAsync(Store, "a", Now)).Select(d => d.JobId).Order());
        var first = (await Store.GetAsync("ev_0/a", CancellationToken.None))!;
        await Store.FinishAttemptAsync(Outcome(first, DeliveryStates.Pending, Now, Now.AddMinutes(1)), CancellationToken.None);
        // Failing, ev_0 still holds ev_1 back; delivered, it lets ev_1 go.
        Assert.DoesNotContain("ev_1/a", (await DueAsync(Store, "a", Now.AddSeconds(30))).Select(d => d.JobId));
        await Store.FinishAttemptAsync(Outcome((await Store.GetAsync("ev_0/a", CancellationToken.None))!, DeliveryStates.Delivered, Now.AddMinutes(1), Now.AddMinutes(1), 200), CancellationToken.None);
        Assert.Contains("ev_1/a", (await DueAsync(Store, "a", Now.AddMinutes(1))).Select(d => d.JobId));
    }

    [StoreFact]
    public async Task Resume_EndsTheHold_AndMakesTheFlowsPendingDeliveriesDueAtOnce()
    {
        await Store.RecordAsync(Jobs("a", 0, 1), _ => null, Now, CancellationToken.None);
        var delivery = (await DueAsync(Store, "a", Now)).Single();
        await Store.FinishAttemptAsync(Outcome(delivery, DeliveryStates.Pending, Now, Now.AddHours(1)), CancellationToken.None);
        await Store.HoldAsync(new DeliveryHold("default", "a", "410 Gone", Now), CancellationToken.None);

        Assert.Equal([("a", "410 Gone", Now)], (await Store.HoldsAsync(CancellationToken.None)).Select(h => (h.Flow, h.Reason, h.At)));
        Assert.True(await Store.ResumeAsync("default", "a", Now.AddMinutes(1), CancellationToken.None));
        Assert.False(await Store.ResumeAsync("default", "a", Now.AddMinutes(1), CancellationToken.None));
        Assert.Empty(await Store.HoldsAsync(CancellationToken.None));
        Assert.Equal(Now.AddMinutes(1), (await Store.GetAsync(delivery.JobId, CancellationToken.None))!.DueAt);
    }

    [StoreFact]
    public async Task Query_FiltersByFlowsStateFaultAndTime_AndPages()
    {
        await Store.RecordAsync(Jobs("a", 0, 3, received: Now.AddHours(-2)), _ => null, Now, CancellationToken.None);
        await Store.RecordAsync(Jobs("a", 3, 2), _ => null, Now, CancellationToken.None);
        await Store.RecordAsync(Jobs("b", 0, 2), _ => null, Now, CancellationToken.None);
        foreach (var (id, fault) in new[] { ("ev_0/a", Faults.Target), ("ev_1/a", Faults.ZenMesh) })
        {
            await Store.FinishAttemptAsync(Outcome((await Store.GetAsync(id, CancellationToken.None))!, DeliveryStates.Dead, Now, Now, fault: fault), CancellationToken.None);
        }

        async Task<List<string>> Ids(DeliveryQuery q) => [.. (await Store.QueryAsync(q, CancellationToken.None)).Select(r => r.Delivery.JobId)];

        Assert.Equal(["ev_0/b", "ev_1/b"], await Ids(new DeliveryQuery { Flows = ["default/b"] }));
        Assert.Empty(await Ids(new DeliveryQuery { Flows = [] }));
        Assert.Equal(["ev_1/a"], await Ids(new DeliveryQuery { State = DeliveryStates.Dead, Fault = Faults.ZenMesh }));
        Assert.Equal(["ev_0/a", "ev_1/a", "ev_2/a"], await Ids(new DeliveryQuery { Flow = "a", Until = Now.AddHours(-1) }));
        Assert.Equal(["ev_3/a", "ev_4/a"], await Ids(new DeliveryQuery { Flow = "a", Since = Now.AddHours(-1) }));
        Assert.Equal(["ev_1/a", "ev_1/b"], await Ids(new DeliveryQuery { EventId = "ev_1" }));
        var page = await Store.QueryAsync(new DeliveryQuery { Limit = 4 }, CancellationToken.None);
        Assert.Equal(3, (await Ids(new DeliveryQuery { AfterSeq = page[^1].Seq })).Count);
        Assert.Equal([("default/a", DeliveryStates.Dead, 2L), ("default/a", DeliveryStates.Pending, 3L)], await Store.CountAsync(new DeliveryQuery { Tenant = "default", Flow = "a" }, CancellationToken.None));
    }

    [StoreFact]
    public async Task Replay_LargerThanABatch_QueuesExactlyWhatMatchedWhenAsked()
    {
        await Store.RecordAsync(Jobs("a", 0, 1200), _ => null, Now, CancellationToken.None);
        await Store.RecordAsync(Jobs("b", 0, 10), _ => null, Now, CancellationToken.None);
        var created = await Store.CreateReplayAsync("rpl_big", new DeliveryQuery { Flows = ["default/a"] }, Now, CancellationToken.None);
        await Store.RecordAsync(Jobs("a", 5000, 5), _ => null, Now, CancellationToken.None);

        var batches = new List<long>();
        var replay = created;
        while (replay.State == ReplayStates.Running)
        {
            var before = replay.Queued;
            (replay, var flows) = await Store.ReplayBatchAsync("rpl_big", ReplayRunner.Batch, Now.AddSeconds(1), CancellationToken.None);
            batches.Add(replay.Queued - before);
            Assert.All(flows, f => Assert.Equal(("default", "a"), f));
        }

        Assert.Equal(1200, created.Matched);
        Assert.Equal([500, 500, 200], batches);
        Assert.Equal((ReplayStates.Done, 1200L), (replay.State, replay.Queued));
        var replayed = await Store.CountAsync(new DeliveryQuery { Replay = "rpl_big" }, CancellationToken.None);
        Assert.Equal([("default/a", DeliveryStates.Pending, 1200L)], replayed);
        var (after, none) = await Store.ReplayBatchAsync("rpl_big", ReplayRunner.Batch, Now, CancellationToken.None);
        Assert.Empty(none);
        Assert.Equal(1200, after.Queued);
        Assert.Equal(["rpl_big"], (await Store.ReplaysAsync(CancellationToken.None)).Select(r => r.Id));
        Assert.Equal(["default/a"], (await Store.GetReplayAsync("rpl_big", CancellationToken.None))!.Filter.Flows!);
    }

    [StoreFact]
    public async Task CancelledReplay_QueuesNothingMore_AndPutsBackWhatItQueuedAsItWas()
    {
        await Store.RecordAsync(Jobs("a", 0, 700), _ => null, Now, CancellationToken.None);
        var dead = (await Store.GetAsync("ev_0/a", CancellationToken.None))!;
        await Store.FinishAttemptAsync(Outcome(dead, DeliveryStates.Dead, Now, Now, fault: Faults.Target), CancellationToken.None);
        await Store.CreateReplayAsync("rpl_stop", new DeliveryQuery { Flow = "a" }, Now, CancellationToken.None);
        await Store.ReplayBatchAsync("rpl_stop", ReplayRunner.Batch, Now.AddMinutes(1), CancellationToken.None);
        Assert.Equal((DeliveryStates.Pending, 0), ((await Store.GetAsync("ev_0/a", CancellationToken.None))!.State, (await Store.GetAsync("ev_0/a", CancellationToken.None))!.Failures));

        var cancelled = await Store.CancelReplayAsync("rpl_stop", Now.AddMinutes(2), CancellationToken.None);
        var (after, flows) = await Store.ReplayBatchAsync("rpl_stop", ReplayRunner.Batch, Now.AddMinutes(2), CancellationToken.None);

        Assert.Equal((ReplayStates.Cancelled, 500L, 500L), (cancelled!.State, cancelled.Queued, cancelled.Withdrawn));
        Assert.Empty(flows);
        Assert.Equal(500, after.Queued);
        Assert.Empty(await Store.CountAsync(new DeliveryQuery { Replay = "rpl_stop" }, CancellationToken.None));
        var restored = (await Store.GetAsync("ev_0/a", CancellationToken.None))!;
        Assert.Equal((DeliveryStates.Dead, 1, Now, Now, Now), (restored.State, restored.Failures, restored.FirstAttemptAt, restored.FinishedAt, restored.DueAt));
        Assert.Null(await Store.CancelReplayAsync("rpl_nope", Now, CancellationToken.None));
    }
}

/// <summary>The contract on the embedded store, a SQLite file in a temporary data directory.</summary>
public sealed class SqliteDeliveryStoreTests : DeliveryStoreContract
{
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-delivery-store-").FullName;

    protected override Task<IDeliveryStore> OpenAsync() =>
        Task.FromResult<IDeliveryStore>(new SqliteDeliveryStore(Microsoft.Extensions.Options.Options.Create(new Hosting.EgressOptions { DataDir = _dir })));

    protected override Task CleanUpAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }
}
