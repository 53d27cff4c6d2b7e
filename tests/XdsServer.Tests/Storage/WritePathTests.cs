using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;
using XdsModel = ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Tests.Storage;

/// <summary>
/// A change is validated, compiled and checked for consistency before anything is saved; then it is
/// saved; then published. The store's lock covers only the swap and the publish: no I/O under it.
/// </summary>
public sealed class WritePathTests : IAsyncDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-writepath-").FullName;
    private readonly EvidenceLedger _ledger;

    public WritePathTests() => _ledger = new EvidenceLedger(new SqliteControlPlaneDatabase(_dataDir), TimeProvider.System);

    public async ValueTask DisposeAsync()
    {
        await _ledger.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    private static DesiredState OneFlow(DesiredState s) => s
        .With(ResourceKind.Edge, "t", "a", new Edge())
        .With(ResourceKind.Endpoint, "t", "in", new XdsModel.Endpoint { Edge = "a", Provider = "none" })
        .With(ResourceKind.Target, "t", "out", new Target { Edge = "a", Url = "http://127.0.0.1:9000/", AllowLoopback = true })
        .With(ResourceKind.Flow, "t", "f", new Flow { Endpoint = "in", Target = "out" });

    /// <summary>Counts saves, and can hold one until the test lets it go.</summary>
    private sealed class WatchedPersistence(IDesiredStatePersistence inner) : IDesiredStatePersistence
    {
        public int Saves;
        public TaskCompletionSource? Hold;
        public readonly TaskCompletionSource Saving = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public StoredState Load() => inner.Load();

        public long Revision() => inner.Revision();

        public long Save(IReadOnlyList<Change> changes, long expectedRevision)
        {
            Interlocked.Increment(ref Saves);
            Saving.TrySetResult();
            Hold?.Task.Wait();
            return inner.Save(changes, expectedRevision);
        }

        public string Describe() => inner.Describe();
    }

    /// <summary>A cache that finds every snapshot for one node inconsistent, as a compiler bug would make it.</summary>
    private sealed class RefusingCache(string node) : ISnapshotCache
    {
        private readonly SnapshotCache _inner = new();
        public int Published;

        public IReadOnlyList<string> Check(Snapshot snapshot) => ["route 'flow-f' names cluster 'missing', which the snapshot lacks"];

        public Snapshot Current(string nodeKey) => _inner.Current(nodeKey);

        public SnapshotUpdate PublishDefault(Snapshot snapshot, bool alreadyChecked = false) => _inner.PublishDefault(snapshot, alreadyChecked);

        public SnapshotUpdate Publish(string nodeKey, Snapshot snapshot, bool alreadyChecked = false)
        {
            Interlocked.Increment(ref Published);
            return nodeKey == node ? SnapshotUpdate.Refused(snapshot.Version, Check(snapshot)) : _inner.Publish(nodeKey, snapshot, alreadyChecked);
        }

        public void Clear(string nodeKey) => _inner.Clear(nodeKey);

        public IDisposable Watch(string nodeKey, Action changed) => _inner.Watch(nodeKey, changed);
    }

    [Fact]
    public void AChangeWhoseCompiledConfigIsInconsistent_IsRefusedWithTheReason_AndNeverSavedNorPublished()
    {
        var persistence = new WatchedPersistence(new DesiredStatePersistence(new SqliteControlPlaneDatabase(_dataDir)));
        var cache = new RefusingCache("t/a");
        var store = new DesiredStateStore(cache, persistence, _ledger);

        var result = store.TryChange(OneFlow);

        Assert.False(result.Applied);
        Assert.Contains(result.Problems, p => p.ToString().Contains("names cluster 'missing'", StringComparison.Ordinal) && p.ToString().Contains("ZenMesh bug", StringComparison.Ordinal));
        Assert.Equal(0, persistence.Saves);
        Assert.Equal(0, cache.Published);
        Assert.Equal(0, persistence.Revision());
        Assert.Empty(store.Current.Flows);
    }

    [Fact]
    public void ADryRun_CompilesAndChecks_SoItReportsWhatTheChangeWouldReport()
    {
        var persistence = new WatchedPersistence(new DesiredStatePersistence(new SqliteControlPlaneDatabase(_dataDir)));
        var store = new DesiredStateStore(new RefusingCache("t/a"), persistence, _ledger);

        var result = store.TryChange(OneFlow, dryRun: true);

        Assert.False(result.Applied);
        Assert.Contains(result.Problems, p => p.ToString().Contains("names cluster 'missing'", StringComparison.Ordinal));
        Assert.Equal(0, persistence.Saves);
    }

    [Fact]
    public async Task WhileAChangeIsBeingSaved_ACatchUpAndReadsGoOn_AndTheChangeIsPublishedAfterItsSave()
    {
        var persistence = new WatchedPersistence(new DesiredStatePersistence(new SqliteControlPlaneDatabase(_dataDir))) { Hold = new(TaskCreationOptions.RunContinuationsAsynchronously) };
        var cache = new SnapshotCache();
        var store = new DesiredStateStore(cache, persistence, _ledger);

        var change = Task.Run(() => store.TryChange(OneFlow));
        await persistence.Saving.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // The save is under way (held): a replica's catch-up must not wait for it, and nothing is published yet.
        var refresh = Task.Run(store.Refresh);
        Assert.Empty(await refresh.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Empty(store.Current.Flows);
        Assert.True(cache.Current("t/a").Types.IsEmpty);

        persistence.Hold.SetResult();
        var result = await change.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(result.Applied, string.Join("; ", result.Problems));
        Assert.Single(store.Current.Flows);
        Assert.NotNull(cache.Current("t/a").Get(ZenMesh.Xds.Resources.TypeUrls.Cluster).Find("flow-f"));
        Assert.Equal(1, store.Revision);
    }
}
