using System.Data.Common;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Storage;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Evidence;

/// <summary>
/// The ledger's one writer when the database fails in a way that is not a DbException (PostgreSQL
/// unreachable is a <see cref="DatabaseUnavailableException"/>): that write fails, at once, and the
/// writer lives on, so the writes after it (every Flow API change waits for its entry) neither hang
/// nor fail once the database is back.
/// </summary>
public sealed class LedgerWriterTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-ledger-writer-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public async Task AnUnreachableDatabase_FailsThatWrite_AndTheNextWriteSucceedsOnceItIsBack()
    {
        var database = new FlakyDatabase(new SqliteControlPlaneDatabase(_dataDir));
        await using var ledger = new EvidenceLedger(database, TimeProvider.System);

        database.Down = true;
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => ledger.AppendAsync("default", "change", "test", "flows/a", "{}").WithTimeout("the failed write to be answered"));
        database.Down = false;
        await ledger.AppendAsync("default", "change", "test", "flows/b", "{}").WithTimeout("the next write");

        Assert.IsType<DatabaseUnavailableException>(failed);
        Assert.Equal(["flows/b"], ledger.Read("default", null, null, null, 10).Select(e => e.Subject));
        Assert.True(ledger.Verify().Valid);
    }

    /// <summary>A database that, while <see cref="Down"/>, cannot be reached.</summary>
    private sealed class FlakyDatabase(ControlPlaneDatabase inner) : ControlPlaneDatabase
    {
        public volatile bool Down;

        public override string Describe() => inner.Describe();

        public override bool IsShared => inner.IsShared;

        public override DbConnection Open() => Down
            ? throw new DatabaseUnavailableException("Cannot reach the test database: it is down.", new TimeoutException())
            : inner.Open();

        public override void LockWriters(DbTransaction transaction) => inner.LockWriters(transaction);

        public override void Notify(DbTransaction transaction, string topic) => inner.Notify(transaction, topic);
    }
}
