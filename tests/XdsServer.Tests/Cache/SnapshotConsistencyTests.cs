using ZenMesh.Xds.Cache;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;

namespace ZenMesh.XdsServer.Tests.Cache;

public sealed class SnapshotConsistencyTests
{
    [Fact]
    public void Check_ConsistentSnapshot_HasNoErrors() =>
        Assert.Empty(SnapshotConsistency.Check(Mesh(clusters: [("c1", 1), ("c2", 2)])));

    [Fact]
    public void Check_EdsClusterWithoutAssignment_NamesTheMissingReference()
    {
        var errors = SnapshotConsistency.Check(Snapshot.Create([Listener("app", "routes"), Route("routes", "c1"), Cluster("c1"), Cluster("c2"), Endpoints("c2", 1)]));

        Assert.Equal(
        [
            "inconsistent \"eds\" reference: missing [c1]",
            "Cluster 'c1' is of type EDS and needs ClusterLoadAssignment 'c1', which is missing. Add a ClusterLoadAssignment with cluster_name 'c1', or give the cluster a static load_assignment.",
        ], errors);
    }

    [Fact]
    public void Check_ListenerWithoutRoute_AndClusterWithoutEndpoints_ReportsBoth()
    {
        var errors = SnapshotConsistency.Check(Snapshot.Create([Listener("app", "gone"), Cluster("c1")]));

        Assert.Equal(
        [
            "inconsistent \"eds\" reference: missing [c1]",
            "inconsistent \"rds\" reference: missing [gone]",
            "Cluster 'c1' is of type EDS and needs ClusterLoadAssignment 'c1', which is missing. Add a ClusterLoadAssignment with cluster_name 'c1', or give the cluster a static load_assignment.",
            "Listener 'app' names RouteConfiguration 'gone' (rds.route_config_name), which is missing. Add a RouteConfiguration named 'gone', or inline a route_config.",
        ], errors);
    }

    [Fact]
    public void Publish_InconsistentSnapshot_IsRefused_AndTheLastGoodKeepsServing()
    {
        var cache = new SnapshotCache();
        var good = Mesh();
        Assert.True(cache.PublishDefault(good).Accepted);

        var update = cache.PublishDefault(Snapshot.Create([Cluster("orphan")]));

        Assert.False(update.Accepted);
        Assert.Equal("inconsistent \"eds\" reference: missing [orphan]", update.Errors[0]);
        Assert.Same(good, cache.Current("any-node"));
    }

    [Fact]
    public void Create_DuplicateNames_AreRefusedListingEveryDuplicate()
    {
        var error = Assert.Throws<ArgumentException>(() => Snapshot.Create([Cluster("a"), Cluster("a"), Endpoints("e", 1), Endpoints("e", 2)]));
        Assert.StartsWith("Each resource name may appear once per type; duplicated: CDS 'a', EDS 'e'. Rename or remove the copies.", error.Message);
    }

    [Fact]
    public void Current_NodeWithItsOwnSnapshot_GetsIt_OthersGetTheDefault()
    {
        var cache = new SnapshotCache();
        var shared = Mesh();
        var own = Mesh(clusters: [("mine", 7)]);
        cache.PublishDefault(shared);
        cache.Publish("edge-1", own);

        Assert.Same(own, cache.Current("edge-1"));
        Assert.Same(shared, cache.Current("edge-2"));
        cache.Clear("edge-1");
        Assert.Same(shared, cache.Current("edge-1"));
    }

    [Fact]
    public void Watch_IsToldOfChangesToItsNodeOnly_AndDisposingTwiceIsSafe()
    {
        var cache = new SnapshotCache();
        var calls = 0;
        var watch = cache.Watch("edge-1", () => calls++);
        cache.Publish("edge-2", Mesh());
        cache.Publish("edge-1", Mesh());
        cache.PublishDefault(Mesh(clusters: [("x", 1)])); // edge-1 has its own snapshot: not affected
        Assert.Equal(1, calls);

        watch.Dispose();
        watch.Dispose();
        cache.Publish("edge-1", Mesh(clusters: [("y", 1)]));
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Version_DependsOnContentOnly()
    {
        Assert.Equal(Mesh().Version, Mesh().Version);
        Assert.NotEqual(Mesh().Version, Mesh(clusters: [("c1", 9002)]).Version);
    }
}
