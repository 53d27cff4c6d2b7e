using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Storage.Log;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The embedded store's contract against the log store, and what only a log has: a torn last write
/// after a crash, segments that roll over (an event larger than a segment included), and one process
/// per directory.
/// </summary>
public sealed class LogEventStoreTests : EmbeddedStoreContract
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));

    protected override IEventStore Open(IngesterOptions options, TimeProvider time) =>
        new LogEventStore(Options.Create(options), time, NullLogger<LogEventStore>.Instance);

    private LogEventStore OpenLog() =>
        new(Options.Create(new IngesterOptions { DataDir = Path.Combine(DataDir, "own"), LogSegmentBytes = 1 << 20 }), _clock, NullLogger<LogEventStore>.Instance);

    private IncomingEvent Event(string key, int bodyBytes = 16) =>
        new("default", "gh", key, "push", _clock.GetUtcNow(), "{}"u8.ToArray(), Enumerable.Range(0, bodyBytes).Select(i => (byte)(i * 7)).ToArray(), ["to-ci"]);

    private string[] Segments() => [.. Directory.GetFiles(Path.Combine(DataDir, "own", "log"), "*.seg").Order(StringComparer.Ordinal)];

    [Fact]
    public async Task ATornLastRecord_IsNotAnEvent_AndWritingGoesOnInANewSegment()
    {
        StoredEvent kept;
        await using (var store = OpenLog())
        {
            kept = await store.AppendAsync(Event("kept")).WaitAsync(TestTimeouts.Default);
        }
        // A crash in the middle of the next write: only the first half of its record reached the disk.
        var file = Segments()[0];
        var bytes = await File.ReadAllBytesAsync(file);
        var length = BitConverter.ToInt32(bytes, 0);
        bytes.AsSpan(0, length / 2).CopyTo(bytes.AsSpan(length));
        await File.WriteAllBytesAsync(file, bytes);

        StoredEvent next;
        await using (var store = OpenLog())
        {
            Assert.Equal(Event("kept").Body, store.Body(kept.Id));
            Assert.Equal(1, store.Count("default", "gh"));
            next = await store.AppendAsync(Event("next")).WaitAsync(TestTimeouts.Default);
            Assert.False(next.Duplicate);
        }
        await using (var store = OpenLog())
        {
            Assert.Equal(2, store.Count("default", "gh"));
            Assert.True((await store.AppendAsync(Event("next")).WaitAsync(TestTimeouts.Default)).Duplicate);
            Assert.Equal(2, store.OpenJobs);
        }
        Assert.Equal(bytes, await File.ReadAllBytesAsync(file));
    }

    [Fact]
    public async Task Segments_RollOver_AndAnEventLargerThanASegment_IsKeptWhole()
    {
        var ids = new List<(string Id, byte[] Body)>();
        await using (var store = OpenLog())
        {
            foreach (var (key, size) in new[] { ("a", 300_000), ("b", 300_000), ("c", 300_000), ("d", 300_000), ("huge", 1_500_000), ("e", 10) })
            {
                var e = Event(key, size);
                ids.Add(((await store.AppendAsync(e).WaitAsync(TestTimeouts.Default)).Id, e.Body));
            }
        }
        var written = Segments().Count(f => File.ReadAllBytes(f).Any(b => b != 0));
        Assert.True(written >= 3, $"expected the events to span at least 3 segments, found {written}");

        await using (var store = OpenLog())
        {
            Assert.All(ids, e => Assert.Equal(e.Body, store.Body(e.Id)));
            var jobs = await store.LeaseAsync(null, 100, TimeSpan.FromMinutes(1), CancellationToken.None).WaitAsync(TestTimeouts.Default);
            Assert.Equal(ids.Select(e => e.Id), jobs.Select(j => j.EventId));
            Assert.Equal(ids.Select(e => e.Body), jobs.Select(j => j.Body));
        }
    }

    [Fact]
    public async Task ASecondStoreOnTheSameDirectory_IsRefused_SayingWhy()
    {
        await using var first = OpenLog();

        var e = Assert.Throws<IOException>(OpenLog);

        Assert.Contains($"the event log in {Path.Combine(DataDir, "own", "log")} is in use by another ingester", e.Message, StringComparison.Ordinal);
        Assert.Contains("give each ingester a --data-dir of its own", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EitherStore_WhereTheOtherKeepsEvents_IsRefused_SayingWhatToDo()
    {
        var sqliteDir = Path.Combine(DataDir, "was-sqlite");
        var logDir = Path.Combine(DataDir, "was-log");
        await using (var sqlite = new SqliteEventStore(Options.Create(new IngesterOptions { DataDir = sqliteDir }), _clock, NullLogger<SqliteEventStore>.Instance))
        {
            await sqlite.AppendAsync(Event("a")).WaitAsync(TestTimeouts.Default);
        }
        await using (var log = new LogEventStore(Options.Create(new IngesterOptions { DataDir = logDir, LogSegmentBytes = 1 << 20 }), _clock, NullLogger<LogEventStore>.Instance))
        {
            await log.AppendAsync(Event("a")).WaitAsync(TestTimeouts.Default);
        }

        var toLog = Assert.Throws<InvalidOperationException>(() => new LogEventStore(Options.Create(new IngesterOptions { DataDir = sqliteDir }), _clock, NullLogger<LogEventStore>.Instance));
        var toSqlite = Assert.Throws<InvalidOperationException>(() => new SqliteEventStore(Options.Create(new IngesterOptions { DataDir = logDir }), _clock, NullLogger<SqliteEventStore>.Instance));

        Assert.Equal(
            $"the data directory {sqliteDir} holds the sqlite store's events ({Path.Combine(sqliteDir, "events.db")}), and --store log would start an empty store beside them, leaving their undelivered jobs behind; run with --store sqlite, or give --store log a --data-dir of its own",
            toLog.Message);
        Assert.Equal(
            $"the data directory {logDir} holds the log store's events ({Path.Combine(logDir, "log")}), and --store sqlite would start an empty store beside them, leaving their undelivered jobs behind; run with --store log, or give --store sqlite a --data-dir of its own",
            toSqlite.Message);
    }
}
