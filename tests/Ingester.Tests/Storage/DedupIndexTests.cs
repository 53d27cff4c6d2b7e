using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The embedded store's dedup index on its own: claims found whether in memory, in a run or in a
/// merge of runs; kept across a reopen, with the rows a reopen must read back named exactly;
/// forgotten once expired; a damaged run set aside rather than trusted.
/// </summary>
public sealed class DedupIndexTests : IDisposable
{
    private static readonly TimeSpan Window = TimeSpan.FromDays(7);
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-dedup-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DedupIndex Open(int flushAt = 16) => new(_dir, Window, _time, NullLogger.Instance, flushAt);

    private static UInt128 Key(int n) => DedupHash.Of("default", "gh", $"delivery-{n}");

    /// <summary>Adds claims 1..count as the writer does: one per committed row, flushing after each "commit".</summary>
    private List<Guid> Claim(DedupIndex index, int from, int count, string partition = "20261123")
    {
        var claims = new List<Guid>();
        for (var n = from; n < from + count; n++)
        {
            var uuid = Guid.CreateVersion7(_time.GetUtcNow());
            index.Add(Key(n), uuid, partition, n);
            index.MaybeFlush();
            claims.Add(uuid);
        }
        return claims;
    }

    private static Guid? Find(DedupIndex index, int n) => index.TryFind(Key(n), out var uuid) ? uuid : null;

    [Fact]
    public void EveryClaim_IsFound_WhileInMemory_InRuns_AndInMergedRuns_AndNothingElseIs()
    {
        using var index = Open();
        var claims = Claim(index, 1, 1000);
        index.FlushNow();

        Assert.InRange(index.Runs, 1, 10);
        Assert.Equal(1000, index.Count);
        for (var n = 1; n <= 1000; n++)
        {
            Assert.Equal(claims[n - 1], Find(index, n));
        }
        Assert.All(Enumerable.Range(1001, 5000), n => Assert.Null(Find(index, n)));
    }

    [Fact]
    public void AReopenedIndex_FindsWhatWasWrittenOut_AndNamesTheRowsItMustBeGivenAgain()
    {
        var crashed = Open(flushAt: 1000);
        var claims = Claim(crashed, 1, 250);
        crashed.FlushNow();
        Claim(crashed, 251, 50);
        // Not disposed: as after kill -9, claims 251-300 live only in their rows.

        using (var reopened = Open(flushAt: 1000))
        {
            Assert.Equal(250, reopened.Covered["20261123"]);
            Assert.Equal(claims[249], Find(reopened, 250));
            Assert.Null(Find(reopened, 251));
            Claim(reopened, 251, 50);
        }
        using var afterCleanStop = Open(flushAt: 1000);
        Assert.Equal(300, afterCleanStop.Covered["20261123"]);
        Assert.NotNull(Find(afterCleanStop, 300));
        GC.KeepAlive(crashed);
    }

    [Fact]
    public void AnExpiredClaim_IsNotFound_AndALaterClaimOfTheSameKey_WinsThroughEveryMerge()
    {
        using var index = Open(flushAt: 4);
        Claim(index, 1, 8);
        _time.Advance(Window + TimeSpan.FromMinutes(1));
        Assert.Null(Find(index, 1));

        var again = Claim(index, 1, 1)[0];
        Claim(index, 100, 64);
        index.FlushNow();

        Assert.Equal(again, Find(index, 1));
        Assert.Null(Find(index, 2));
    }

    [Fact]
    public void Purge_DropsRunsWhoseClaimsHaveAllExpired_AndCountsWhatItForgot()
    {
        using var index = Open(flushAt: 10);
        Claim(index, 1, 10);
        index.FlushNow();
        _time.Advance(TimeSpan.FromDays(3));
        Claim(index, 11, 3);
        index.FlushNow();
        _time.Advance(TimeSpan.FromDays(5));

        Assert.Equal(10, index.Purge());

        Assert.Equal(3, index.Count);
        Assert.NotNull(Find(index, 11));
        Assert.Equal(0, index.Purge());
    }

    [Fact]
    public void ADamagedRun_IsSetAside_AndEveryRowIsReadBack()
    {
        using (var index = Open(flushAt: 10))
        {
            Claim(index, 1, 20);
        }
        var run = Directory.GetFiles(_dir, "*" + DedupRun.Extension).Order().First();
        File.WriteAllBytes(run, File.ReadAllBytes(run)[..100]);

        using var reopened = Open(flushAt: 10);

        Assert.Empty(reopened.Covered);
        Assert.True(File.Exists(run + ".bad"));
        Assert.False(File.Exists(run));
    }
}
