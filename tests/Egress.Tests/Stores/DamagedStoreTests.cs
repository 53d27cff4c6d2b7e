using Microsoft.Extensions.Options;
using ZenMesh.Data;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Tests.Stores;

/// <summary>A damaged deliveries.db is found when the egress opens it, and it stops there naming the file and how to recover.</summary>
public sealed class DamagedStoreTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-egress-damaged-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public void ADamagedDeliveriesFile_StopsTheStart_NamingTheFileAndTheRecovery()
    {
        var file = Path.Combine(_dataDir, "deliveries.db");
        File.WriteAllBytes(file, Enumerable.Repeat((byte)0x42, 8192).ToArray());

        var damaged = Assert.Throws<DamagedDatabaseException>(() => new SqliteDeliveryStore(Options.Create(new EgressOptions { DataDir = _dataDir })));

        Assert.StartsWith($"the database file {file} is damaged (", damaged.Message, StringComparison.Ordinal);
        Assert.Contains("it holds the egress's deliveries", damaged.Message, StringComparison.Ordinal);
        Assert.Contains($"sqlite3 {file} .recover", damaged.Message, StringComparison.Ordinal);
    }
}
