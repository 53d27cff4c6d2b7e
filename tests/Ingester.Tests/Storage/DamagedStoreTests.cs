using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Data;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// A damaged events.db (a page overwritten, or a file that is no database at all) or dedup.db is
/// found when the store opens, and the ingester stops there with a message that names the file and how to recover,
/// instead of serving whatever part of it still reads.
/// </summary>
public sealed class DamagedStoreTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-damaged-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dataDir, recursive: true);
    }

    private SqliteEventStore Open() =>
        new(Options.Create(new IngesterOptions { DataDir = _dataDir }), TimeProvider.System, NullLogger<SqliteEventStore>.Instance);

    private string File => Path.Combine(_dataDir, "events.db");

    [Fact]
    public async Task APageOverwrittenWithGarbage_StopsTheStart_NamingTheFileAndTheRecovery()
    {
        await using (var store = Open())
        {
            for (var n = 0; n < 200; n++)
            {
                await store.AppendAsync(new IncomingEvent("default", "gh", $"d-{n}", "push", DateTimeOffset.UtcNow, "{}"u8.ToArray(), Encoding.UTF8.GetBytes(new string('x', 2000)), ["to-ci"])).WaitAsync(TestTimeouts.Default);
            }
        }
        SqliteConnection.ClearAllPools();
        Assert.False(System.IO.File.Exists(File + "-wal") && new FileInfo(File + "-wal").Length > 0, "the WAL was not checkpointed into the file");
        using (var file = new FileStream(File, FileMode.Open, FileAccess.ReadWrite))
        {
            var pageSize = 4096;
            file.Position = 20L * pageSize;
            file.Write(Enumerable.Repeat((byte)0xA5, pageSize).ToArray());
        }

        var damaged = Assert.Throws<DamagedDatabaseException>(() => Open());

        Assert.StartsWith($"the database file {File} is damaged (", damaged.Message, StringComparison.Ordinal);
        Assert.Contains("it holds the ingester's events, dedup keys and open jobs", damaged.Message, StringComparison.Ordinal);
        Assert.Contains($"restore {File} from a backup, or salvage what still reads: 'sqlite3 {File} .recover > recovered.sql'", damaged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFileThatIsNoDatabase_StopsTheStart_TheSameWay()
    {
        System.IO.File.WriteAllBytes(File, Enumerable.Repeat((byte)0x42, 8192).ToArray());

        var damaged = Assert.Throws<DamagedDatabaseException>(() => Open());

        Assert.StartsWith($"the database file {File} is damaged (", damaged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADamagedKeyFile_StopsTheStart_AndDoingWhatItSays_RebuildsTheKeysFromTheEvents()
    {
        StoredEvent stored;
        await using (var store = Open())
        {
            stored = await store.AppendAsync(new IncomingEvent("default", "gh", "d-1", "push", DateTimeOffset.UtcNow, "{}"u8.ToArray(), "{}"u8.ToArray(), ["to-ci"])).WaitAsync(TestTimeouts.Default);
        }
        SqliteConnection.ClearAllPools();
        var keyFile = Path.Combine(_dataDir, "dedup.db");
        System.IO.File.WriteAllBytes(keyFile, Enumerable.Repeat((byte)0x42, 8192).ToArray());

        var damaged = Assert.Throws<DamagedDatabaseException>(() => Open());

        Assert.StartsWith($"the database file {keyFile} is damaged (", damaged.Message, StringComparison.Ordinal);
        Assert.Contains($"move {keyFile} (with its -wal and -shm files) aside and start again: the ingester rebuilds the keys from the events it holds", damaged.Message, StringComparison.Ordinal);
        foreach (var file in new[] { keyFile, keyFile + "-wal", keyFile + "-shm" }.Where(System.IO.File.Exists))
        {
            System.IO.File.Move(file, file + ".damaged");
        }
        await using var rebuilt = Open();
        Assert.Equal(stored with { Duplicate = true }, await rebuilt.AppendAsync(new IncomingEvent("default", "gh", "d-1", "push", DateTimeOffset.UtcNow, "{}"u8.ToArray(), "{}"u8.ToArray(), ["to-ci"])).WaitAsync(TestTimeouts.Default));
    }
}
