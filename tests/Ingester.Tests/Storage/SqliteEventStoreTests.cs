using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The contract against SQLite (events.db), and what only the embedded store does: its leases are
/// in memory, so a restart hands every unacknowledged job out again at once (same ids).
/// </summary>
public sealed class SqliteEventStoreTests : EventStoreContract
{
    protected override Task<IEventStore> OpenAsync(IngesterOptions options, TimeProvider time) =>
        Task.FromResult<IEventStore>(new SqliteEventStore(Options.Create(options), time, NullLogger<SqliteEventStore>.Instance));

    [Fact]
    public async Task ARestart_HandsOutEveryUnacknowledgedJobAgain_AtOnce()
    {
        await AppendAsync("d-1", "to-ci");
        var held = Assert.Single(await LeaseAsync());

        await ReopenAsync();

        Assert.Equal(held.JobId, Assert.Single(await LeaseAsync()).JobId);
    }
}
