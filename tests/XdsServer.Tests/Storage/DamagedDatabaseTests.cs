using ZenMesh.Data;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Tests.Storage;

/// <summary>A damaged zenmesh.db is found when the control plane opens it, and it stops there naming the file and how to recover.</summary>
public sealed class DamagedDatabaseTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-cp-damaged-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public void ADamagedStateFile_StopsTheStart_NamingTheFileAndTheRecovery()
    {
        var file = Path.Combine(_dataDir, "zenmesh.db");
        File.WriteAllBytes(file, Enumerable.Repeat((byte)0x42, 8192).ToArray());

        var damaged = Assert.Throws<DamagedDatabaseException>(() => new SqliteControlPlaneDatabase(_dataDir));

        Assert.StartsWith($"the database file {file} is damaged (", damaged.Message, StringComparison.Ordinal);
        Assert.Contains("it holds the control plane's desired state", damaged.Message, StringComparison.Ordinal);
    }
}
