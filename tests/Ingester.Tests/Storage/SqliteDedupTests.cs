using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The embedded store's deduplication, whose keys live beside the database: a redelivery is a
/// duplicate with its original id after any number of runs written and merged, after a second
/// store opens the same files without the first having stopped (as after a crash), after
/// retention dropped the day the event came in, and in a store made before the index existed.
/// </summary>
public sealed class SqliteDedupTests : IAsyncDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-dedup-store-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
        return ValueTask.CompletedTask;
    }

    private SqliteEventStore Open(int runSize = 8, TimeSpan? retention = null) =>
        new(Options.Create(new IngesterOptions { DataDir = _dataDir, DedupRunSize = runSize, Retention = retention ?? TimeSpan.FromDays(7) }), _time, NullLogger<SqliteEventStore>.Instance);

    private Task<StoredEvent> AppendAsync(SqliteEventStore store, string key) =>
        store.AppendAsync(new IncomingEvent("default", "gh", key, "push", _time.GetUtcNow(), "{}"u8.ToArray(), Encoding.UTF8.GetBytes(key), ["to-ci"])).WaitAsync(TestTimeouts.Default);

    [Fact]
    public async Task Redeliveries_AreDuplicatesWithTheirOriginalIds_InMemoryInRunsAndAfterARestart()
    {
        var ids = new Dictionary<string, string>();
        await using (var store = Open())
        {
            foreach (var key in Enumerable.Range(0, 100).Select(n => $"delivery-{n}"))
            {
                ids[key] = (await AppendAsync(store, key)).Id;
            }
            foreach (var (key, id) in ids)
            {
                Assert.Equal(new StoredEvent(id, Duplicate: true), await AppendAsync(store, key));
            }
        }
        await using var reopened = Open();
        foreach (var (key, id) in ids)
        {
            Assert.Equal(new StoredEvent(id, Duplicate: true), await AppendAsync(reopened, key));
        }
        Assert.False((await AppendAsync(reopened, "delivery-100")).Duplicate);
        Assert.Equal(101, reopened.Count("default", "gh"));
    }

    [Fact]
    public async Task AStoreOpenedWhileTheLastOneNeverStopped_ReadsItsUnwrittenKeysBackFromTheEvents()
    {
        var first = Open(runSize: 1000);
        var stored = await AppendAsync(first, "only-in-memory");

        await using (var second = Open(runSize: 1000))
        {
            Assert.Equal(new StoredEvent(stored.Id, Duplicate: true), await AppendAsync(second, "only-in-memory"));
        }
        await first.DisposeAsync();
    }

    [Fact]
    public async Task AKeyWhoseDayRetentionDropped_IsStillADuplicate_InsideTheWindow_EvenAfterACrash()
    {
        var first = Open(runSize: 1000, retention: TimeSpan.FromDays(1));
        var stored = await AppendAsync(first, "outlives-its-payload");
        _time.Advance(TimeSpan.FromDays(2));

        Assert.Equal(["20261123"], (await first.ExpireAsync(CancellationToken.None)).DroppedPartitions);
        Assert.Null(first.Body(stored.Id));

        // The first store is not stopped: only what retention wrote out before the drop can tell.
        await using (var second = Open(runSize: 1000, retention: TimeSpan.FromDays(1)))
        {
            Assert.Equal(new StoredEvent(stored.Id, Duplicate: true), await AppendAsync(second, "outlives-its-payload"));
        }
        await first.DisposeAsync();
    }

    [Fact]
    public async Task AStoreFromBeforeTheDedupIndex_KeepsItsKeys_AndLosesItsDedupTable()
    {
        var path = Path.Combine(_dataDir, "events.db");
        var id = EventIds.Of(new EventUuids().New(_time.GetUtcNow()));
        using (var old = new SqliteConnection($"Data Source={path}"))
        {
            old.Open();
            using var schema = old.CreateCommand();
            // The schema as the previous version made it, with one event and its claim.
            schema.CommandText = $"""
                PRAGMA journal_mode = WAL;
                CREATE TABLE dedup (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (tenant, endpoint, dedup_key));
                CREATE INDEX dedup_expiry ON dedup (expires_at);
                CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL);
                CREATE TABLE events_20261123 (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL);
                INSERT INTO events_20261123 VALUES ('{id}', 'default', 'gh', 'from-before', 'push', '2026-11-23T10:00:00.0000000+00:00', '{"{}"}', x'7b7d');
                INSERT INTO dedup VALUES ('default', 'gh', 'from-before', '{id}', '2026-11-30T10:00:00.0000000+00:00');
                """;
            schema.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();

        await using var store = Open();

        Assert.Equal(new StoredEvent(id, Duplicate: true), await AppendAsync(store, "from-before"));
        Assert.False((await AppendAsync(store, "new")).Duplicate);
        using var check = new SqliteConnection($"Data Source={path}");
        check.Open();
        using var tables = check.CreateCommand();
        tables.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('dedup', 'dedup_expiry')";
        Assert.Equal(0L, tables.ExecuteScalar());
    }
}
