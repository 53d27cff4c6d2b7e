using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Replays;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Tests.Stores;

/// <summary>
/// A deliveries.db an earlier egress left (before replays named their tenant, before replays and
/// ordering marked deliveries) opens in place: its columns are added, and what it held is served.
/// </summary>
public sealed class UpgradedStoreTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-egress-upgraded-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task AFileFromAnEarlierVersion_OpensInPlace_WithItsDeliveriesAndReplays()
    {
        using (var old = new SqliteConnection($"Data Source={Path.Combine(_dataDir, "deliveries.db")};Pooling=False"))
        {
            old.Open();
            using var schema = old.CreateCommand();
            schema.CommandText = """
                CREATE TABLE deliveries (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL UNIQUE, event_id TEXT NOT NULL,
                    tenant TEXT NOT NULL, flow TEXT NOT NULL, endpoint TEXT NOT NULL, event_type TEXT,
                    received_at INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
                    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
                    due_at INTEGER NOT NULL, first_attempt_at INTEGER, recorded_at INTEGER NOT NULL, finished_at INTEGER,
                    last_status INTEGER, last_outcome TEXT, last_fault TEXT);
                CREATE TABLE replays (
                    id TEXT PRIMARY KEY, filter TEXT NOT NULL, up_to_seq INTEGER NOT NULL, matched INTEGER NOT NULL, queued INTEGER NOT NULL DEFAULT 0,
                    cursor INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER, withdrawn INTEGER NOT NULL DEFAULT 0);
                INSERT INTO deliveries (job_id, event_id, tenant, flow, endpoint, received_at, headers, body, state, due_at, recorded_at)
                    VALUES ('ev_1/orders', 'ev_1', 'default', 'orders', 'gh', 1000, '{}', x'7b7d', 'dead', 1000, 1000);
                INSERT INTO replays (id, filter, up_to_seq, matched, state, created_at) VALUES ('rp_old', '{}', 1, 1, 'done', 2000);
                """;
            schema.ExecuteNonQuery();
        }

        await using var store = new SqliteDeliveryStore(Options.Create(new EgressOptions { DataDir = _dataDir, Edge = "default/local" }));

        Assert.Equal(DeliveryStates.Dead, (await store.GetAsync("ev_1/orders", CancellationToken.None))?.State);
        Assert.Equal("rp_old", Assert.Single(await store.ReplaysAsync(CancellationToken.None)).Id);
        var replay = await store.CreateReplayAsync("rp_new", new DeliveryQuery { State = DeliveryStates.Dead }, DateTimeOffset.UnixEpoch.AddSeconds(3), CancellationToken.None);
        Assert.Equal(1, replay.Matched);
        var (queued, flows) = await store.ReplayBatchAsync("rp_new", 10, DateTimeOffset.UnixEpoch.AddSeconds(3), CancellationToken.None);
        Assert.Equal((ReplayStates.Done, 1L), (queued.State, queued.Queued));
        Assert.Equal([("default", "orders")], flows);
        Assert.Equal(DeliveryStates.Pending, (await store.GetAsync("ev_1/orders", CancellationToken.None))?.State);
    }
}
