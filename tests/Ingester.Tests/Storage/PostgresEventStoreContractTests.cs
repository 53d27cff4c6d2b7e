using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The contract against PostgreSQL, one database per test, and what only it checks: a database
/// that would confirm commits before they are on disk (synchronous_commit off) is refused at start.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class PostgresEventStoreContractTests(PostgresServerFixture postgres) : EventStoreContract, INeedsPostgres
{
    private string? _database;

    protected override async Task<IEventStore> OpenAsync(IngesterOptions options, TimeProvider time)
    {
        _database ??= await postgres.CreateDatabaseAsync();
        return new PostgresEventStore(Options.Create(options with { Postgres = _database }), time, NullLogger<PostgresEventStore>.Instance);
    }

    [PostgresFact]
    public async Task SynchronousCommitOff_IsRefusedAtStart_SayingHowToTurnItOn()
    {
        var database = await postgres.CreateDatabaseAsync();
        var off = new NpgsqlConnectionStringBuilder(database) { Options = "-c synchronous_commit=off" }.ToString();

        var refused = Assert.Throws<InvalidOperationException>(() => new PostgresEventStore(Options.Create(new IngesterOptions { Postgres = off }), Time, NullLogger<PostgresEventStore>.Instance));

        Assert.StartsWith("synchronous_commit is off for user '", refused.Message, StringComparison.Ordinal);
        Assert.Contains("ALTER ROLE ... SET synchronous_commit = on", refused.Message, StringComparison.Ordinal);
    }
}
