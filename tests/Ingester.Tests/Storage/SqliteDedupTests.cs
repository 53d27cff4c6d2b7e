using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The embedded store's deduplication, whose keys live in a SQLite file of their own (dedup.db), a
/// table per day, written behind by a writer of their own: a redelivery is a duplicate with its
/// original id whether its key is still in memory or written, after a restart, after a second store
/// opens the files without the first having stopped (as after a crash), after retention dropped the
/// day the event came in (the keys have a window of their own), and in a store from an earlier
/// version (keys in events.db, or in run files of our own), whose keys are read back from its events.
/// Webhooks never wait for key writes: while the key file is held by someone else, they are stored
/// and answered all the same.
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

    // Keys are written to the key file once 8 wait: most tests cross that several times.
    private SqliteEventStore Open(TimeSpan? retention = null, TimeSpan? window = null) =>
        new(Options.Create(new IngesterOptions { DataDir = _dataDir, Retention = retention ?? TimeSpan.FromDays(7), DedupWindow = window ?? TimeSpan.FromDays(7), DedupWriteBatch = 8 }), _time, NullLogger<SqliteEventStore>.Instance);

    private string KeyFile => Path.Combine(_dataDir, "dedup.db");

    /// <summary>The keys written to a day's table in the key file (0 while it has none).</summary>
    private long KeysWritten(string day)
    {
        using var check = new SqliteConnection($"Data Source={KeyFile};Pooling=False");
        check.Open();
        using var keys = check.CreateCommand();
        keys.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = @table";
        keys.Parameters.AddWithValue("@table", "dedup_" + day);
        if ((long)keys.ExecuteScalar()! == 0)
        {
            return 0;
        }
        keys.CommandText = $"SELECT COUNT(*) FROM dedup_{day}";
        return (long)keys.ExecuteScalar()!;
    }

    /// <summary>Takes the key file's write lock, as another process could, until disposed: no key is written meanwhile.</summary>
    private SqliteConnection HoldKeyFile()
    {
        var holder = new SqliteConnection($"Data Source={KeyFile};Pooling=False");
        holder.Open();
        using var begin = holder.CreateCommand();
        begin.CommandText = "BEGIN IMMEDIATE";
        begin.ExecuteNonQuery();
        return holder;
    }

    private Task<StoredEvent> AppendAsync(SqliteEventStore store, string key) =>
        store.AppendAsync(new IncomingEvent("default", "gh", key, "push", _time.GetUtcNow(), "{}"u8.ToArray(), Encoding.UTF8.GetBytes(key), ["to-ci"])).WaitAsync(TestTimeouts.Default);

    /// <summary>Writes events.db as an earlier version left it (<paramref name="schema"/>, given the id of its one event); that id.</summary>
    private string WriteEarlierEventsFile(Func<string, string> schema)
    {
        var id = EventIds.Of(new EventUuids().New(_time.GetUtcNow()));
        using (var old = new SqliteConnection($"Data Source={Path.Combine(_dataDir, "events.db")}"))
        {
            old.Open();
            using var command = old.CreateCommand();
            command.CommandText = schema(id);
            command.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();
        return id;
    }

    [Fact]
    public async Task Redeliveries_AreDuplicatesWithTheirOriginalIds_InMemoryAndAfterARestart()
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
    public async Task AStoreOpenedWhileTheLastOneNeverStopped_FindsItsKeys_WrittenOrNot()
    {
        var first = Open();
        var ids = new List<string>();
        for (var n = 0; n < 8; n++)
        {
            ids.Add((await AppendAsync(first, $"key-{n}")).Id);
        }
        await TestTimeouts.Eventually(() => Task.FromResult(KeysWritten("20261123") == 8), "the first 8 keys written");
        // 3 more that cannot be written: they are only in memory and in their events' rows.
        SqliteEventStore second;
        using (HoldKeyFile())
        {
            for (var n = 8; n < 11; n++)
            {
                ids.Add((await AppendAsync(first, $"key-{n}")).Id);
            }
            Assert.Equal(8, KeysWritten("20261123"));

            second = Open();
            for (var n = 0; n < 11; n++)
            {
                Assert.Equal(new StoredEvent(ids[n], Duplicate: true), await AppendAsync(second, $"key-{n}"));
            }
        }
        // Stopped once the file is free: a stop writes what waits, and would wait for the file meanwhile.
        await second.DisposeAsync();
        await first.DisposeAsync();
    }

    [Fact]
    public async Task WhileTheKeyFileIsHeld_WebhooksAreStillStoredAndDeduplicated_AndTheirKeysFollowOnceItIsFree()
    {
        var store = Open();
        var ids = new List<string>();
        using (HoldKeyFile())
        {
            // Five batches' worth of keys: each would have held every webhook behind its write.
            for (var n = 0; n < 40; n++)
            {
                ids.Add((await AppendAsync(store, $"held-{n}")).Id);
            }
            for (var n = 0; n < 40; n++)
            {
                Assert.Equal(new StoredEvent(ids[n], Duplicate: true), await AppendAsync(store, $"held-{n}"));
            }
            Assert.Equal(0, KeysWritten("20261123"));
        }

        // Batches of 8 or more are written as they fill; the rest (fewer than 8) by the stop.
        await TestTimeouts.Eventually(() => Task.FromResult(KeysWritten("20261123") > 32), "the keys written once the file is free");
        await store.DisposeAsync();
        Assert.Equal(40, KeysWritten("20261123"));
    }

    [Fact]
    public async Task AKeyWhoseDayRetentionDropped_IsStillADuplicate_InsideTheWindow_EvenAfterACrash()
    {
        var first = Open(retention: TimeSpan.FromDays(1));
        var stored = await AppendAsync(first, "outlives-its-payload");
        _time.Advance(TimeSpan.FromDays(2));

        Assert.Equal(["20261123"], (await first.ExpireAsync(CancellationToken.None)).DroppedPartitions);
        Assert.Null(first.Body(stored.Id));

        // The first store is not stopped: only what it committed can tell.
        await using (var second = Open(retention: TimeSpan.FromDays(1)))
        {
            Assert.Equal(new StoredEvent(stored.Id, Duplicate: true), await AppendAsync(second, "outlives-its-payload"));
        }
        await first.DisposeAsync();
    }

    [Fact]
    public async Task AKeyPastTheWindow_IsForgottenWithItsWholeDay_AndTheEventIsNewAgain()
    {
        await using var store = Open(retention: TimeSpan.FromDays(7), window: TimeSpan.FromDays(1));
        var first = await AppendAsync(store, "once-a-week");
        _time.Advance(TimeSpan.FromDays(2));

        var result = await store.ExpireAsync(CancellationToken.None);

        Assert.Empty(result.DroppedPartitions);
        Assert.Equal(1, result.ForgottenKeys);
        Assert.NotNull(store.Body(first.Id));
        var again = await AppendAsync(store, "once-a-week");
        Assert.False(again.Duplicate);
        Assert.NotEqual(first.Id, again.Id);
    }

    [Fact]
    public async Task AStoreFromAnEarlierVersion_KeepsItsKeys_AndLosesItsDedupTableAndRunFiles()
    {
        var path = Path.Combine(_dataDir, "events.db");
        // The schema as earlier versions made it, with one event and its claim.
        var id = WriteEarlierEventsFile(eventId => $"""
                PRAGMA journal_mode = WAL;
                CREATE TABLE dedup (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (tenant, endpoint, dedup_key));
                CREATE INDEX dedup_expiry ON dedup (expires_at);
                CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL);
                CREATE TABLE events_20261123 (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL);
                INSERT INTO events_20261123 VALUES ('{eventId}', 'default', 'gh', 'from-before', 'push', '2026-11-23T10:00:00.0000000+00:00', '{"{}"}', x'7b7d');
                INSERT INTO dedup VALUES ('default', 'gh', 'from-before', '{eventId}', '2026-11-30T10:00:00.0000000+00:00');
            """);
        var runs = Directory.CreateDirectory(Path.Combine(_dataDir, "dedup")).FullName;
        await File.WriteAllBytesAsync(Path.Combine(runs, "000001.run"), [1, 2, 3]);

        await using var store = Open();

        Assert.Equal(new StoredEvent(id, Duplicate: true), await AppendAsync(store, "from-before"));
        Assert.False((await AppendAsync(store, "new")).Duplicate);
        Assert.False(Directory.Exists(runs));
        using var check = new SqliteConnection($"Data Source={path}");
        check.Open();
        using var tables = check.CreateCommand();
        tables.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('dedup', 'dedup_expiry')";
        Assert.Equal(0L, tables.ExecuteScalar());
    }

    [Fact]
    public async Task AKeyFileThatCannotKeepUp_BoundsTheKeysHeldInMemory_With503s_AndTheStoreRecoversWhenItCatchesUp()
    {
        // 16 batches of 8: the most keys held in memory for the key file.
        const int most = 16 * 8;
        var store = Open();
        var holder = HoldKeyFile();
        for (var n = 0; n < most; n++)
        {
            await AppendAsync(store, $"behind-{n}");
        }

        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() => AppendAsync(store, "one-too-many"));
        Assert.Contains("dedup.db", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"{most} keys behind", refused.Message, StringComparison.Ordinal);
        Assert.False(store.Health.Writable);

        holder.Dispose();
        await TestTimeouts.Eventually(() => Task.FromResult(KeysWritten("20261123") >= most - 8), "the key file catching up");
        // The store tries again on its probe interval, on the injected clock.
        await TestTimeouts.Eventually(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            return Task.FromResult(store.Health.Writable);
        }, "the store writable again");
        Assert.False((await AppendAsync(store, "one-too-many")).Duplicate);
        await store.DisposeAsync();
    }

    [Fact]
    public async Task AStoreWhoseKeysAreInItsEventsFile_MovesThemToTheKeyFile_FromItsEvents()
    {
        var path = Path.Combine(_dataDir, "events.db");
        // As the store kept its keys before they had a file of their own: the key written, and its mark.
        var id = WriteEarlierEventsFile(eventId => $"""
                PRAGMA journal_mode = WAL;
                CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL);
                CREATE TABLE keys_written (day TEXT PRIMARY KEY, through_rowid INTEGER NOT NULL);
                CREATE TABLE events_20261123 (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL);
                CREATE TABLE dedup_20261123 (hash BLOB PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID;
                INSERT INTO events_20261123 VALUES ('{eventId}', 'default', 'gh', 'from-before', 'push', '2026-11-23T10:00:00.0000000+00:00', '{"{}"}', x'7b7d');
                INSERT INTO dedup_20261123 VALUES (x'00', '{eventId}');
                INSERT INTO keys_written VALUES ('20261123', 1);
            """);

        var store = Open();

        Assert.Equal(new StoredEvent(id, Duplicate: true), await AppendAsync(store, "from-before"));
        await store.DisposeAsync();
        Assert.Equal(1, KeysWritten("20261123"));
        using var check = new SqliteConnection($"Data Source={path}");
        check.Open();
        using var tables = check.CreateCommand();
        tables.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('dedup_20261123', 'keys_written')";
        Assert.Equal(0L, tables.ExecuteScalar());
    }

    [Fact]
    public async Task AStop_WritesTheKeysStillWaiting()
    {
        var store = Open();
        var holder = HoldKeyFile();
        for (var n = 0; n < 3; n++)
        {
            await AppendAsync(store, $"stopped-{n}");
        }
        var stopping = store.DisposeAsync().AsTask();
        Assert.Equal(0, KeysWritten("20261123"));

        holder.Dispose();
        await stopping.WaitAsync(TestTimeouts.Default);

        Assert.Equal(3, KeysWritten("20261123"));
    }

    [Fact]
    public async Task WhileTheStoreRuns_KeysAreWrittenBehind_OnceABatchOfThemWaits()
    {
        await using var store = Open();
        for (var n = 0; n < 8; n++)
        {
            await AppendAsync(store, $"running-{n}");
        }

        // Not stopped, not restarted: the key writer wrote the 8 (DedupWriteBatch).
        await TestTimeouts.Eventually(() => Task.FromResult(KeysWritten("20261123") == 8), "the 8 keys written while the store runs");
    }
}
