using Microsoft.Extensions.Options;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Stores;

/// <summary>
/// The contract on PostgreSQL, and what only a shared store does: two egress instances on one
/// database never take the same delivery at once (claims), a dead instance's claims lapse after
/// their time and another instance takes them, a lane that stops early gives its claims back, and
/// an ordering key held by one instance holds the other back too.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class PostgresDeliveryStoreTests(PostgresServerFixture postgres) : DeliveryStoreContract, INeedsPostgres
{
    private readonly List<IDeliveryStore> _others = [];
    private string? _database;

    protected override async Task<IDeliveryStore> OpenAsync()
    {
        _database ??= await postgres.CreateDatabaseAsync();
        return new PostgresDeliveryStore(Options.Create(new EgressOptions { Postgres = _database }));
    }

    /// <summary>A second egress instance's store on the same database.</summary>
    private async Task<IDeliveryStore> OtherAsync()
    {
        var other = await OpenAsync();
        _others.Add(other);
        return other;
    }

    protected override async Task CleanUpAsync()
    {
        foreach (var other in _others)
        {
            await other.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task TwoInstances_TakingAtOnce_NeverTakeTheSameDelivery()
    {
        var other = await OtherAsync();
        await Store.RecordAsync(Jobs("a", 0, 300), _ => null, Now, CancellationToken.None);

        var takes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => DueAsync(i % 2 == 0 ? Store : other, "a", Now, max: 20)));
        var taken = takes.SelectMany(t => t.Select(d => d.JobId)).ToList();

        Assert.Equal(taken.Count, taken.Distinct().Count());
        Assert.Equal(300, taken.Count);
        Assert.Empty(await DueAsync(other, "a", Now.AddSeconds(30)));
    }

    [PostgresFact]
    public async Task AClaim_LapsesAfterItsTime_AndIsNextDueThen()
    {
        var other = await OtherAsync();
        await Store.RecordAsync(Jobs("a", 0, 1), _ => null, Now, CancellationToken.None);
        Assert.Single(await DueAsync(Store, "a", Now));

        Assert.Empty(await DueAsync(other, "a", Now + Claim - TimeSpan.FromMilliseconds(1)));
        Assert.Equal(Now + Claim, await other.NextDueAsync("default", "a", CancellationToken.None));
        // The instance that claimed it never reported (it died): once the claim lapses the other takes it.
        Assert.Equal(["ev_0/a"], (await DueAsync(other, "a", Now + Claim)).Select(d => d.JobId));
    }

    [PostgresFact]
    public async Task ReleasedClaims_AndFinishedAttempts_AreFreeForTheOtherInstanceAtOnce()
    {
        var other = await OtherAsync();
        await Store.RecordAsync(Jobs("a", 0, 4), _ => null, Now, CancellationToken.None);
        var mine = await DueAsync(Store, "a", Now);

        await Store.ReleaseAsync(["ev_2/a", "ev_3/a"], CancellationToken.None);
        // Only the instance holding a claim can release it.
        await other.ReleaseAsync(["ev_1/a"], CancellationToken.None);
        await Store.FinishAttemptAsync(Outcome(mine[0], DeliveryStates.Pending, Now, Now.AddSeconds(1)), CancellationToken.None);

        Assert.Equal(["ev_2/a", "ev_3/a"], (await DueAsync(other, "a", Now)).Select(d => d.JobId));
        Assert.Equal(["ev_0/a"], (await DueAsync(other, "a", Now.AddSeconds(1))).Select(d => d.JobId));
    }

    [PostgresFact]
    public async Task AnOrderingKeyBeingAttemptedByOneInstance_HoldsTheOtherBack()
    {
        var other = await OtherAsync();
        await Store.RecordAsync(Jobs("a", 0, 3), j => j.JobId == "ev_2/a" ? "y" : "x", Now, CancellationToken.None);

        var mine = await DueAsync(Store, "a", Now, max: 1);
        var theirs = await DueAsync(other, "a", Now);

        Assert.Equal(["ev_0/a"], mine.Select(d => d.JobId));
        Assert.Equal(["ev_2/a"], theirs.Select(d => d.JobId));
        await Store.FinishAttemptAsync(Outcome(mine[0], DeliveryStates.Delivered, Now, Now, 200), CancellationToken.None);
        Assert.Equal(["ev_1/a"], (await DueAsync(other, "a", Now)).Select(d => d.JobId));
    }

    [PostgresFact]
    public async Task SynchronousCommitOff_IsRefusedAtStart_SayingHowToTurnItOn()
    {
        var off = new Npgsql.NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync()) { Options = "-c synchronous_commit=off" }.ToString();

        var refused = Assert.Throws<InvalidOperationException>(() => new PostgresDeliveryStore(Options.Create(new EgressOptions { Postgres = off })));

        Assert.StartsWith("synchronous_commit is off for user '", refused.Message, StringComparison.Ordinal);
        Assert.Contains("the egress acknowledges a job", refused.Message, StringComparison.Ordinal);
    }
}
