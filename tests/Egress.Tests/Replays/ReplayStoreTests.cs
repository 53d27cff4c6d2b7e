using Google.Protobuf;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Replays;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Tests.Replays;

/// <summary>
/// Replay in the delivery store, past one batch: it takes exactly what matched when it was asked
/// for (not what arrives later, not other flows), batch by batch with its cursor stored, and a
/// replay no longer running queues nothing more.
/// </summary>
public sealed class ReplayStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-replay-store-").FullName;

    private SqliteDeliveryStore Open() => new(Options.Create(new EgressOptions { DataDir = _dir }));

    private static List<DeliveryJob> Jobs(string flow, int from, int count) =>
        [.. Enumerable.Range(from, count).Select(i => new DeliveryJob
        {
            JobId = $"ev_{i}/{flow}", EventId = $"ev_{i}", Flow = flow, Tenant = "default", Endpoint = "orders", EventType = "t", Body = ByteString.CopyFromUtf8("{}"),
        })];

    [Fact]
    public async Task Replay_LargerThanABatch_QueuesExactlyWhatMatchedWhenAsked()
    {
        await using var store = Open();
        var now = DateTimeOffset.UtcNow;
        await store.RecordAsync(Jobs("a", 0, 1200), _ => null, now, CancellationToken.None);
        await store.RecordAsync(Jobs("b", 0, 10), _ => null, now, CancellationToken.None);
        var created = await store.CreateReplayAsync("rpl_big", new DeliveryQuery { Flows = ["default/a"] }, now, CancellationToken.None);
        await store.RecordAsync(Jobs("a", 5000, 5), _ => null, now, CancellationToken.None);

        var batches = new List<long>();
        Replay replay = created;
        while (replay.State == ReplayStates.Running)
        {
            var before = replay.Queued;
            (replay, var flows) = await store.ReplayBatchAsync("rpl_big", ReplayRunner.Batch, now.AddSeconds(1), CancellationToken.None);
            batches.Add(replay.Queued - before);
            Assert.All(flows, f => Assert.Equal(("default", "a"), f));
        }

        Assert.Equal(1200, created.Matched);
        Assert.Equal([500, 500, 200], batches);
        Assert.Equal((ReplayStates.Done, 1200L), (replay.State, replay.Queued));
        var replayed = await store.CountAsync(new DeliveryQuery { Replay = "rpl_big" }, CancellationToken.None);
        Assert.Equal([("default/a", DeliveryStates.Pending, 1200L)], replayed);
        var (after, none) = await store.ReplayBatchAsync("rpl_big", ReplayRunner.Batch, now, CancellationToken.None);
        Assert.Empty(none);
        Assert.Equal(1200, after.Queued);
    }

    [Fact]
    public async Task CancelledReplay_QueuesNothingMore()
    {
        await using var store = Open();
        var now = DateTimeOffset.UtcNow;
        await store.RecordAsync(Jobs("a", 0, 700), _ => null, now, CancellationToken.None);
        await store.CreateReplayAsync("rpl_stop", new DeliveryQuery { Flow = "a" }, now, CancellationToken.None);
        await store.ReplayBatchAsync("rpl_stop", ReplayRunner.Batch, now, CancellationToken.None);

        var cancelled = await store.CancelReplayAsync("rpl_stop", now, CancellationToken.None);
        var (after, flows) = await store.ReplayBatchAsync("rpl_stop", ReplayRunner.Batch, now, CancellationToken.None);

        Assert.Equal((ReplayStates.Cancelled, 500L, 500L), (cancelled!.State, cancelled.Queued, cancelled.Withdrawn));
        Assert.Empty(flows);
        Assert.Equal(500, after.Queued);
        Assert.Empty(await store.CountAsync(new DeliveryQuery { Replay = "rpl_stop" }, CancellationToken.None));
        Assert.Null(await store.CancelReplayAsync("rpl_nope", now, CancellationToken.None));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
