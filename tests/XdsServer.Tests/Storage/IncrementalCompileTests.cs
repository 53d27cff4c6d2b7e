using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;
using XdsModel = ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Tests.Storage;

/// <summary>A change recompiles only the edges it touches; what every edge is served must still equal a full compile.</summary>
public sealed class IncrementalCompileTests : IAsyncDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-incremental-").FullName;
    private readonly SnapshotCache _cache = new();
    private readonly EvidenceLedger _ledger;
    private readonly DesiredStateStore _store;

    public IncrementalCompileTests()
    {
        _ledger = new EvidenceLedger(new SqliteControlPlaneDatabase(_dataDir), TimeProvider.System);
        _store = new DesiredStateStore(_cache, new DesiredStatePersistence(new SqliteControlPlaneDatabase(_dataDir)), _ledger);
    }

    public async ValueTask DisposeAsync()
    {
        await _ledger.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    private void Change(Func<DesiredState, DesiredState> change)
    {
        var result = _store.TryChange(change);
        Assert.True(result.Applied, string.Join("; ", result.Problems));
        var full = FlowCompiler.Compile(_store.Current);
        foreach (var (node, snapshot) in full)
        {
            Assert.True(snapshot.Version == _cache.Current(node).Version, $"edge {node} is served {_cache.Current(node).Summary} but a full compile gives {snapshot.Summary}");
        }
    }

    [Fact]
    public void EveryEdge_AfterEachChange_IsServedExactlyWhatAFullCompileGives()
    {
        Change(s => s
            .With(ResourceKind.Edge, "t", "a", new Edge())
            .With(ResourceKind.Edge, "t", "b", new Edge())
            .With(ResourceKind.Endpoint, "t", "in", new XdsModel.Endpoint { Edge = "a", Provider = "none" })
            .With(ResourceKind.Target, "t", "out", new Target { Edge = "a", Url = "http://127.0.0.1:9000/", AllowLoopback = true })
            .With(ResourceKind.Flow, "t", "f1", new Flow { Endpoint = "in", Target = "out" }));
        Change(s => s.With(ResourceKind.Flow, "t", "f1", new Flow { Endpoint = "in", Target = "out", MaxInFlight = 3 }));
        // The target moves to edge b: its flows must leave a and appear on b.
        Change(s => s.With(ResourceKind.Target, "t", "out", new Target { Edge = "b", Url = "http://127.0.0.1:9000/", AllowLoopback = true }));
        Assert.NotNull(_cache.Current("t/b").Get(ZenMesh.Xds.Resources.TypeUrls.Cluster).Find("flow-f1"));
        Assert.Null(_cache.Current("t/a").Get(ZenMesh.Xds.Resources.TypeUrls.Cluster).Find("flow-f1"));
        // Endpoint on a, target on b: a flow change alters both (EndpointPolicy on a, egress on b).
        Change(s => s.With(ResourceKind.Flow, "t", "f1", new Flow { Endpoint = "in", Target = "out", EventTypes = ["push"] }));
        Change(s => s.With(ResourceKind.Endpoint, "t", "in", new XdsModel.Endpoint { Edge = "b", Provider = "none" }));
        Change(s => s.Without(ResourceKind.Flow, "t", "f1"));
        Change(s => s.With(ResourceKind.Edge, "t", "a", new Edge { IngesterAddress = "127.0.0.1:9999" }));
    }

    [Fact]
    public void AffectedEdges_OfAFlowChange_AreItsEndpointsEdgeAndItsTargetsEdge()
    {
        var before = DesiredState.Empty
            .With(ResourceKind.Edge, "t", "a", new Edge())
            .With(ResourceKind.Edge, "t", "b", new Edge())
            .With(ResourceKind.Endpoint, "t", "in", new XdsModel.Endpoint { Edge = "a", Provider = "none" })
            .With(ResourceKind.Target, "t", "out", new Target { Edge = "b", Url = "http://127.0.0.1:9000/", AllowLoopback = true })
            .With(ResourceKind.Flow, "t", "f", new Flow { Endpoint = "in", Target = "out" });
        var after = before.With(ResourceKind.Flow, "t", "f", new Flow { Endpoint = "in", Target = "out", MaxPending = 1 });

        Assert.Equal(["t/a", "t/b"], DesiredStateStore.AffectedEdges(before, after, DesiredStateDiff.Between(before, after)).Order());
    }
}
