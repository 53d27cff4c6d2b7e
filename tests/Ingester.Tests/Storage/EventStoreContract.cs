using System.Text;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// What every event store does (SQLite, PostgreSQL), each run against both: one job per flow an
/// event feeds, leased once at a time, handed out again with the same id when a lease runs out,
/// gone once acknowledged, across a restart; deduplication that survives a restart; and retention
/// that drops whole days. For PostgreSQL these are skipped, with the reason, where none can be had.
/// </summary>
public abstract class EventStoreContract : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
    private IEventStore _store = null!;

    protected string DataDir { get; } = Directory.CreateTempSubdirectory("zenmesh-store-").FullName;

    protected IEventStore Store => _store;

    protected FakeTimeProvider Time => _time;

    /// <summary>A store over the same events as every other one this test opened.</summary>
    protected abstract Task<IEventStore> OpenAsync(IngesterOptions options, TimeProvider time);

    public async Task InitializeAsync()
    {
        if (this is not INeedsPostgres || LocalPostgres.Unavailable is null)
        {
            _store = await OpenAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
        Directory.Delete(DataDir, recursive: true);
    }

    private Task<IEventStore> OpenAsync(TimeSpan? retention = null) =>
        OpenAsync(new IngesterOptions { DataDir = DataDir, Retention = retention ?? TimeSpan.FromDays(7) }, _time);

    protected async Task ReopenAsync(TimeSpan? retention = null)
    {
        await _store.DisposeAsync();
        _store = await OpenAsync(retention);
    }

    protected Task<StoredEvent> AppendAsync(string key, params string[] flows) =>
        _store.AppendAsync(new IncomingEvent("default", "gh", key, "push", _time.GetUtcNow(), """{"X-GitHub-Event":"push"}"""u8.ToArray(), Encoding.UTF8.GetBytes($$"""{"key":"{{key}}"}"""), flows));

    protected Task<IReadOnlyList<LeasedJob>> LeaseAsync(int max = 100, params string[] flows) =>
        _store.LeaseAsync(flows.Length == 0 ? null : flows.ToHashSet(), max, Lease, CancellationToken.None).WaitAsync(TestTimeouts.Default);

    [StoreFact]
    public async Task AnEvent_BecomesOneJobPerFlow_CarryingTheEvent()
    {
        var stored = await AppendAsync("d-1", "to-ci", "to-audit");

        var jobs = await LeaseAsync();

        Assert.Equal([$"{stored.Id}/to-ci", $"{stored.Id}/to-audit"], jobs.Select(j => j.JobId));
        var job = jobs[0];
        Assert.Equal((stored.Id, "default", "gh", "push", 1), (job.EventId, job.Tenant, job.Endpoint, job.EventType, job.HandedOut));
        Assert.Equal("""{"key":"d-1"}""", Encoding.UTF8.GetString(job.Body));
        Assert.Equal("""{"X-GitHub-Event":"push"}""", job.HeadersJson);
        Assert.Equal(_time.GetUtcNow() + Lease, job.LeaseExpiresAt);
        Assert.Equal(2, _store.OpenJobs);
    }

    [StoreFact]
    public async Task AnEmptyBody_EmptyHeadersAndNoEventType_AreStoredAsSuch_NotAsNull()
    {
        // The writer binds values through SQLitePCL itself: an empty span must still be an empty value, not NULL (the body column is NOT NULL).
        var stored = await _store.AppendAsync(new IncomingEvent("default", "gh", "empty-1", null, _time.GetUtcNow(), [], [], ["to-ci"]));

        var job = Assert.Single(await LeaseAsync());

        Assert.Equal((stored.Id, null, "", 0), (job.EventId, job.EventType, job.HeadersJson, job.Body.Length));
        Assert.Empty(Assert.IsType<byte[]>(_store.Body(stored.Id)));
    }

    [StoreFact]
    public async Task TextIsStoredExactly_WhateverItsCharacters()
    {
        const string headers = """{"X-Note":"gr\u00FC\u00DFe \uD83D\uDE80 \u65E5\u672C"}""";
        var stored = await _store.AppendAsync(new IncomingEvent("default", "gh", "ключ-🚀", "issues.opened", _time.GetUtcNow(), Encoding.UTF8.GetBytes(headers + "ü🚀"), [1, 2, 3], ["to-ci"]));

        var job = Assert.Single(await LeaseAsync());

        Assert.Equal((headers + "ü🚀", "issues.opened"), (job.HeadersJson, job.EventType));
        Assert.True((await _store.AppendAsync(new IncomingEvent("default", "gh", "ключ-🚀", "issues.opened", _time.GetUtcNow(), "{}"u8.ToArray(), [9], ["to-ci"]))).Duplicate);
        Assert.Equal(stored.Id, (await _store.AppendAsync(new IncomingEvent("default", "gh", "ключ-🚀", null, _time.GetUtcNow(), "{}"u8.ToArray(), [9], []))).Id);
    }

    [StoreFact]
    public async Task ADuplicate_MakesNoNewJobs_AndAnEventForNoFlow_MakesNone()
    {
        await AppendAsync("d-1", "to-ci");
        Assert.True((await AppendAsync("d-1", "to-ci")).Duplicate);
        await AppendAsync("d-2");

        Assert.Single(await LeaseAsync());
        Assert.Equal(1, _store.OpenJobs);
    }

    [StoreFact]
    public async Task ARedelivery_IsADuplicateOfTheFirst_EvenAfterARestart()
    {
        var first = await AppendAsync("d-1", "to-ci");

        await ReopenAsync();

        var again = await AppendAsync("d-1", "to-ci");
        Assert.Equal((first.Id, true), (again.Id, again.Duplicate));
        Assert.Equal(1, _store.Count("default", "gh"));
        Assert.Equal(1, _store.OpenJobs);
    }

    [StoreFact]
    public async Task AHeldJob_IsNotHandedOutTwice_UntilItsLeaseRunsOut_ThenAgainWithTheSameId()
    {
        await AppendAsync("d-1", "to-ci");
        var first = Assert.Single(await LeaseAsync());

        Assert.Empty(await LeaseAsync());
        _time.Advance(Lease - TimeSpan.FromSeconds(1));
        Assert.Empty(await LeaseAsync());
        _time.Advance(TimeSpan.FromSeconds(1));

        var again = Assert.Single(await LeaseAsync());
        Assert.Equal(first.JobId, again.JobId);
        Assert.Equal(2, again.HandedOut);
    }

    [StoreFact]
    public async Task AnAcknowledgedJob_IsGone_EvenAfterARestart()
    {
        await AppendAsync("d-1", "to-ci");
        await AppendAsync("d-2", "to-ci");
        var jobs = await LeaseAsync();

        Assert.Equal(1, await _store.AckAsync([jobs[0].JobId, "ev_unknown/to-ci"], CancellationToken.None));
        _time.Advance(Lease);
        await ReopenAsync();

        var open = Assert.Single(await LeaseAsync());
        Assert.Equal(jobs[1].JobId, open.JobId);
        Assert.Equal(1, _store.OpenJobs);
    }

    [StoreFact]
    public async Task AcknowledgingOneFlowsJobs_LeavesTheOtherFlowsJobs_AcrossARestart()
    {
        await AppendAsync("d-1", "to-ci", "to-audit");
        await AppendAsync("d-2", "to-ci", "to-audit");
        var ci = await LeaseAsync(10, "to-ci");

        Assert.Equal(2, await _store.AckAsync([.. ci.Select(j => j.JobId)], CancellationToken.None));
        await ReopenAsync();

        Assert.Empty(await LeaseAsync(10, "to-ci"));
        Assert.Equal(["to-audit", "to-audit"], (await LeaseAsync(10)).Select(j => j.Flow));
        Assert.Equal(2, _store.OpenJobs);
    }

    [StoreFact]
    public async Task Leases_HonourTheFlowFilter_AndTheMaximum()
    {
        await AppendAsync("d-1", "to-ci", "to-audit");
        await AppendAsync("d-2", "to-ci", "to-audit");
        await AppendAsync("d-3", "to-ci");

        var audit = await LeaseAsync(10, "to-audit");
        var firstCi = await LeaseAsync(2, "to-ci");
        var rest = await LeaseAsync(10);

        Assert.Equal(["to-audit", "to-audit"], audit.Select(j => j.Flow));
        Assert.Equal(2, firstCi.Count);
        Assert.Equal("to-ci", Assert.Single(rest).Flow);
        Assert.Equal(5, audit.Concat(firstCi).Concat(rest).Select(j => j.JobId).Distinct().Count());
    }

    [StoreFact]
    public async Task Retention_DropsWholeDaysOlderThanItsLimit_WithTheirJobs_AndKeepsTheRest()
    {
        await ReopenAsync(retention: TimeSpan.FromDays(2));
        var old = await AppendAsync("old", "to-ci");
        _time.Advance(TimeSpan.FromDays(1));
        var kept = await AppendAsync("kept", "to-ci");
        _time.Advance(TimeSpan.FromDays(1.6));

        var result = await _store.ExpireAsync(CancellationToken.None);

        Assert.Equal(["20261123"], result.DroppedPartitions);
        Assert.Equal(1, result.DroppedJobs);
        Assert.Null(_store.Body(old.Id));
        Assert.NotNull(_store.Body(kept.Id));
        Assert.Equal(1, _store.Count("default", "gh"));
        Assert.Equal(kept.Id, Assert.Single(await LeaseAsync()).EventId);
        Assert.Empty((await _store.ExpireAsync(CancellationToken.None)).DroppedPartitions);
    }

    [StoreFact]
    public async Task AJobHeldWhenItsDayIsDropped_IsNotHandedOutAgain()
    {
        await ReopenAsync(retention: TimeSpan.FromDays(1));
        await AppendAsync("old", "to-ci");
        Assert.Single(await LeaseAsync());
        _time.Advance(TimeSpan.FromDays(2));

        await _store.ExpireAsync(CancellationToken.None);

        Assert.Empty(await LeaseAsync());
        Assert.Equal(0, _store.OpenJobs);
    }

    [StoreFact]
    public async Task WaitForJobs_EndsWhenAnEventWithJobsIsCommitted()
    {
        var waiting = _store.WaitForJobsAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        await AppendAsync("d-1", "to-ci");

        await waiting.WaitAsync(TestTimeouts.Default);
    }
}
