using Microsoft.Extensions.Logging.Abstractions;
using ZenMesh.Data;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Agent.Tests.LastKnownGood;

public sealed class GenerationStoreTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-lkg-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    private GenerationStore Store(int keep = 3) => new(Path.Combine(_stateDir, "generations"), keep, NullLogger<GenerationStore>.Instance);

    private static Snapshot Cluster(string name, int port) => Snapshot.Create([
        XdsResource.Create(new Envoy.Config.Cluster.V3.Cluster { Name = name, ConnectTimeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(port)) }),
    ], "test");

    [Fact]
    public void Save_ThenLoad_GivesBackTheSameSnapshotAndTimeOfReceipt()
    {
        var at = new DateTimeOffset(2026, 11, 23, 4, 0, 0, TimeSpan.Zero);
        var saved = Store().Save(Cluster("a", 1), at);

        var loaded = Store().LoadNewest()!;

        Assert.Equal(saved.Snapshot.Version, loaded.Snapshot.Version);
        Assert.Equal(at, loaded.ReceivedAt);
        Assert.Equal(saved.Sequence, loaded.Sequence);
        Assert.Equal("a", loaded.Snapshot.Get(TypeUrls.Cluster).Resources.Keys.Single());
    }

    [Fact]
    public void Save_KeepsOnlyTheNewestGenerations_AndNoTemporaryFiles()
    {
        var store = Store(keep: 3);
        for (var i = 1; i <= 5; i++)
        {
            store.Save(Cluster($"c{i}", i), DateTimeOffset.UnixEpoch);
        }

        var files = Directory.GetFiles(Path.Combine(_stateDir, "generations")).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(["gen-0000000003.lkg", "gen-0000000004.lkg", "gen-0000000005.lkg"], files);
        Assert.Equal(6, Store().Save(Cluster("c6", 6), DateTimeOffset.UnixEpoch).Sequence);
    }

    [Theory]
    [InlineData("altered", "the payload's SHA-256 is")]
    [InlineData("truncated", "the header says")]
    [InlineData("garbage", "it does not start with 'zenmesh-lkg 1'")]
    public void ACorruptFile_IsRejectedSayingWhy_AndTheOneBeforeItIsServed(string damage, string reason)
    {
        var store = Store();
        store.Save(Cluster("old", 1), DateTimeOffset.UnixEpoch);
        var newest = store.Save(Cluster("new", 2), DateTimeOffset.UnixEpoch);
        var bytes = File.ReadAllBytes(newest.File);
        bytes = damage switch
        {
            "altered" => [.. bytes[..^5], (byte)(bytes[^5] ^ 1), .. bytes[^4..]],
            "truncated" => bytes[..^20],
            _ => "not a generation"u8.ToArray(),
        };
        File.WriteAllBytes(newest.File, bytes);

        var error = Assert.Throws<InvalidDataException>(() => GenerationFormat.Read(bytes));
        Assert.StartsWith(reason, error.Message);
        Assert.Equal("old", Store().LoadNewest()!.Snapshot.Get(TypeUrls.Cluster).Resources.Keys.Single());
    }

    [Fact]
    public void LoadNewest_WithNothingStored_IsNull() => Assert.Null(Store().LoadNewest());

    [Fact]
    public void ADirectoryThatCannotBeSynced_IsAnError_NotADurableRename()
    {
        var missing = Path.Combine(_stateDir, "not-there");

        var failure = Assert.Throws<IOException>(() => DirectorySync.Flush(missing));

        Assert.StartsWith($"could not open the directory {missing} to make its entries durable: ", failure.Message, StringComparison.Ordinal);
    }
}
