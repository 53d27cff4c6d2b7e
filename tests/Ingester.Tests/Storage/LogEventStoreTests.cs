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

    private LogEventStore OpenLog(string name = "own") =>
        new(Options.Create(new IngesterOptions { DataDir = Path.Combine(DataDir, name), LogSegmentBytes = 1 << 20, DedupRunSize = 8 }), _clock, NullLogger<LogEventStore>.Instance);

    /// <summary>The files as a kill -9 would leave them: every write the store made is in them (page cache), nothing its shutdown would have added.</summary>
    private void CrashImage(string to, bool withCheckpoint = true)
    {
        var from = Path.Combine(DataDir, "own");
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != "LOCK"))
        {
            var copy = Path.Combine(DataDir, to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            try
            {
                File.Copy(file, copy);
            }
            catch (FileNotFoundException)
            {
                // Renamed or deleted since the listing (a segment zeroed ahead of use, the checkpoint's
                // temporary file, a segment retention dropped): a crash just before would leave the same.
            }
        }
        if (!withCheckpoint)
        {
            File.Delete(Path.Combine(DataDir, to, "log", Checkpoint.FileName));
        }
    }

    private async Task WaitForCheckpoint()
    {
        var path = Path.Combine(DataDir, "own", "log", Checkpoint.FileName);
        var until = DateTime.UtcNow + TestTimeouts.Default;
        while (!File.Exists(path))
        {
            Assert.True(DateTime.UtcNow < until, "no checkpoint was written after a segment's worth of events");
            await Task.Delay(10);
        }
    }

    private static async Task<List<LeasedJob>> LeaseAll(LogEventStore store) =>
        [.. await store.LeaseAsync(null, 10_000, TimeSpan.FromMinutes(1), CancellationToken.None).WaitAsync(TestTimeouts.Default)];

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

    /// <summary>An event whose record in the log is exactly <paramref name="recordBytes"/> long.</summary>
    private IncomingEvent EventOfRecordSize(string key, int recordBytes)
    {
        var e = Event(key, recordBytes - LogRecord.EventSize(Event(key, 0)));
        Assert.Equal(recordBytes, LogRecord.EventSize(e));
        return e;
    }

    [Fact]
    public async Task ASegmentSizeOfPartPages_IsKeptExactly_AndARecordEndingInTheLastPartPage_ReadsBack()
    {
        // Segments are zeroed a page at a time past the page cache, and each write runs on to the end
        // of its page: neither may go past a segment that does not end on a page.
        const long size = (1 << 20) + 1000;
        var options = Options.Create(new IngesterOptions { DataDir = Path.Combine(DataDir, "own"), LogSegmentBytes = size });
        var events = new List<(string Id, byte[] Body)>();
        await using (var store = new LogEventStore(options, _clock, NullLogger<LogEventStore>.Instance))
        {
            // The first ends 500 bytes before its segment does, inside the segment's last, partial page.
            foreach (var e in new[] { EventOfRecordSize("fills", (int)size - 500), Event("next", 3000), Event("then", 70_000) })
            {
                events.Add(((await store.AppendAsync(e).WaitAsync(TestTimeouts.Default)).Id, e.Body));
            }
        }
        Assert.True(Segments().Length >= 2, $"expected at least 2 segments, found {Segments().Length}");
        Assert.All(Segments(), f => Assert.Equal(size, new FileInfo(f).Length));

        await using (var store = new LogEventStore(options, _clock, NullLogger<LogEventStore>.Instance))
        {
            Assert.All(events, e => Assert.Equal(e.Body, store.Body(e.Id)));
            Assert.Equal(events.Select(e => e.Id), (await LeaseAll(store)).Select(j => j.EventId));
        }
    }

    [Fact]
    public async Task ASecondStoreOnTheSameDirectory_IsRefused_SayingWhy()
    {
        await using var first = OpenLog();

        var e = Assert.Throws<IOException>(() => OpenLog());

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

    [Fact]
    public async Task ARestartAfterShutdown_ReadsNoRecord_AndFindsTheSameJobs()
    {
        var keys = Enumerable.Range(0, 30).Select(i => $"k{i}").ToList();
        await using (var store = OpenLog())
        {
            foreach (var key in keys)
            {
                await store.AppendAsync(Event(key, 100_000)).WaitAsync(TestTimeouts.Default);
            }
            var jobs = await LeaseAll(store);
            Assert.Equal(10, await store.AckAsync([.. jobs.Take(10).Select(j => j.JobId)], CancellationToken.None));
        }

        await using (var store = OpenLog())
        {
            Assert.True(store.Recovered.FromCheckpoint);
            Assert.Equal(0, store.Recovered.RecordsRead);
            Assert.True(store.Recovered.Segments >= 3, $"expected the events to span at least 3 segments, found {store.Recovered.Segments}");
            Assert.Equal(30, store.Count("default", "gh"));
            Assert.Equal(20, store.OpenJobs);
            var jobs = await LeaseAll(store);
            Assert.Equal(keys.Skip(10).Select(k => Event(k, 100_000).Body), jobs.Select(j => j.Body));
            foreach (var key in keys)
            {
                Assert.True((await store.AppendAsync(Event(key)).WaitAsync(TestTimeouts.Default)).Duplicate);
            }
        }
    }

    [Fact]
    public async Task ACheckpointOfMoreJobsThanABlockHolds_ReadsBackEveryOpenJob_InLogOrder()
    {
        // 4,096 jobs to a block in the file: these take three blocks, the last one part full.
        List<string> ids;
        await using (var store = OpenLog())
        {
            var stored = await Task.WhenAll(Enumerable.Range(0, 10_000).Select(i => store.AppendAsync(Event($"k{i}")))).WaitAsync(TestTimeouts.Default);
            ids = [.. stored.Select(s => s.Id)];
            var jobs = await LeaseAll(store);
            Assert.Equal(1_000, await store.AckAsync([.. jobs.Where((_, i) => i % 10 == 0).Select(j => j.JobId)], CancellationToken.None));
        }

        await using var reopened = OpenLog();

        Assert.True(reopened.Recovered.FromCheckpoint);
        Assert.Equal(0, reopened.Recovered.RecordsRead);
        Assert.Equal(9_000, reopened.OpenJobs);
        Assert.Equal(ids.Where((_, i) => i % 10 != 0), (await LeaseAll(reopened)).Select(j => j.EventId));
    }

    /// <summary>
    /// A hand-made checkpoint of <paramref name="version"/> at segment 7, offset 4096, with no segments
    /// and one flow, "to-ci", whose jobs <paramref name="jobs"/> writes; returns its directory.
    /// </summary>
    private string WriteCheckpoint(string name, int version, Action<BinaryWriter> jobs)
    {
        var dir = Directory.CreateDirectory(Path.Combine(DataDir, name)).FullName;
        using var body = new MemoryStream();
        using (var w = new BinaryWriter(body, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(0x50434D5A);
            w.Write(version);
            w.Write(7L);
            w.Write(4096);
            w.Write(0);
            w.Write(1);
            w.Write("to-ci");
            jobs(w);
        }
        var bytes = body.ToArray();
        File.WriteAllBytes(Path.Combine(dir, Checkpoint.FileName), [.. bytes, .. BitConverter.GetBytes(Crc32C.Of(bytes))]);
        return dir;
    }

    private static void WriteJob(BinaryWriter w, int offset, int length)
    {
        w.Write(7L);
        w.Write(offset);
        w.Write(0);
        w.Write(length);
    }

    /// <summary>A version-2 checkpoint whose jobs come in the given blocks (offsets in segment 7, each 10 bytes long), ended by an empty block unless <paramref name="ended"/> is false.</summary>
    private string WriteSecondVersion(string name, int[][] blocks, bool ended = true) => WriteCheckpoint(name, 2, w =>
    {
        foreach (var block in blocks.Concat(ended ? [[]] : Array.Empty<int[]>()))
        {
            w.Write(block.Length);
            foreach (var offset in block)
            {
                WriteJob(w, offset, 10);
            }
        }
    });

    [Fact]
    public void ACheckpointOfTheSecondVersion_ReadsEveryBlockOfAFlow_InOrder()
    {
        var dir = WriteSecondVersion("v2", [[0, 10, 20], [30], [40, 50]]);

        var checkpoint = Checkpoint.Read(dir, out var problem);

        Assert.Null(problem);
        var (flow, jobs) = Assert.Single(checkpoint!.Flows);
        Assert.Equal("to-ci", flow);
        Assert.Equal(6, jobs.Count);
        Assert.Equal([0, 10, 20, 30, 40, 50], jobs.Select(j => j.Key.Offset));
        Assert.All(jobs, j => Assert.Equal((7L, 10), (j.Key.Segment, j.Length)));
    }

    [Fact]
    public void ACheckpointWhoseBlocksDoNotEnd_IsNotUsed_AndSaysWhichFlow()
    {
        var dir = WriteSecondVersion("v2-unended", [[0, 10]], ended: false);

        var checkpoint = Checkpoint.Read(dir, out var problem);

        Assert.Null(checkpoint);
        Assert.Contains("flow to-ci", problem);
    }

    [Fact]
    public void ACheckpointOfTheFirstVersion_OneCountPerFlow_IsStillRead()
    {
        var dir = WriteCheckpoint("v1", 1, w =>
        {
            w.Write(2);
            WriteJob(w, 0, 100);
            WriteJob(w, 100, 120);
        });

        var checkpoint = Checkpoint.Read(dir, out var problem);

        Assert.Null(problem);
        Assert.NotNull(checkpoint);
        Assert.Equal((7L, 4096), (checkpoint.Seq, checkpoint.End));
        var (flow, jobs) = Assert.Single(checkpoint.Flows);
        Assert.Equal("to-ci", flow);
        Assert.Equal([new CheckpointJob(new JobKey(7, 0, 0), 100), new CheckpointJob(new JobKey(7, 100, 0), 120)], jobs);
    }

    [Fact]
    public async Task ACrashAfterACheckpoint_ReadsOnlyTheLogAfterIt_AndFindsWhatTheWholeLogSays()
    {
        var ids = new List<string>();
        await using (var store = OpenLog())
        {
            for (var i = 0; i < 20; i++)
            {
                ids.Add((await store.AppendAsync(Event($"k{i}", 100_000)).WaitAsync(TestTimeouts.Default)).Id);
            }
            await WaitForCheckpoint();
            // After the checkpoint: more events, and acknowledgements of jobs it holds as open.
            for (var i = 20; i < 25; i++)
            {
                ids.Add((await store.AppendAsync(Event($"k{i}", 100_000)).WaitAsync(TestTimeouts.Default)).Id);
            }
            var jobs = await LeaseAll(store);
            await store.AckAsync([.. jobs.Where((_, i) => i % 3 == 0).Select(j => j.JobId)], CancellationToken.None);
            CrashImage("with");
            CrashImage("without", withCheckpoint: false);
        }
        var open = ids.Where((_, i) => i % 3 != 0).ToList();

        await using var with = OpenLog("with");
        await using var without = OpenLog("without");

        Assert.True(with.Recovered.FromCheckpoint);
        Assert.False(without.Recovered.FromCheckpoint);
        // 25 events and one acknowledgement.
        Assert.Equal(26, without.Recovered.RecordsRead);
        Assert.True(with.Recovered.RecordsRead < without.Recovered.RecordsRead, $"with a checkpoint {with.Recovered.RecordsRead} records were read, without {without.Recovered.RecordsRead}");
        foreach (var store in new[] { with, without })
        {
            Assert.Equal(25, store.Count("default", "gh"));
            Assert.Equal(open.Count, store.OpenJobs);
            Assert.Equal(open, (await LeaseAll(store)).Select(j => j.EventId));
            for (var i = 0; i < 25; i++)
            {
                Assert.True((await store.AppendAsync(Event($"k{i}")).WaitAsync(TestTimeouts.Default)).Duplicate);
            }
        }
    }

    [Fact]
    public async Task ACheckpointThatIsNotWhole_IsNotUsed_AndTheWholeLogIsRead()
    {
        await using (var store = OpenLog())
        {
            await store.AppendAsync(Event("a")).WaitAsync(TestTimeouts.Default);
            await store.AppendAsync(Event("b")).WaitAsync(TestTimeouts.Default);
        }
        var path = Path.Combine(DataDir, "own", "log", Checkpoint.FileName);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);

        await using var reopened = OpenLog();

        Assert.False(reopened.Recovered.FromCheckpoint);
        Assert.Equal(2, reopened.Recovered.RecordsRead);
        Assert.Equal(2, reopened.OpenJobs);
        Assert.True((await reopened.AppendAsync(Event("a")).WaitAsync(TestTimeouts.Default)).Duplicate);
    }

    [Fact]
    public async Task ACrashAfterRetentionDroppedACheckpointedSegment_LeavesItsJobsGone()
    {
        string newId;
        await using (var store = OpenLog())
        {
            for (var i = 0; i < 12; i++)
            {
                await store.AppendAsync(Event($"old{i}", 100_000)).WaitAsync(TestTimeouts.Default);
            }
            await WaitForCheckpoint();
            _clock.Advance(TimeSpan.FromDays(9));
            newId = (await store.AppendAsync(Event("new")).WaitAsync(TestTimeouts.Default)).Id;
            await store.ExpireAsync(CancellationToken.None);
            CrashImage("after");
        }

        await using var reopened = OpenLog("after");

        Assert.True(reopened.Recovered.FromCheckpoint);
        Assert.Equal(1, reopened.Count("default", "gh"));
        Assert.Equal([newId], (await LeaseAll(reopened)).Select(j => j.EventId));
    }
}
