using Envoy.Service.Discovery.V3;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;

namespace ZenMesh.XdsServer.Tests.Protocol;

/// <summary>Incremental (delta) ADS, rule by rule (../shared/XDS-PROTOCOL.md).</summary>
public sealed class DeltaProtocolTests : ServerTest
{

    [Fact] // Rule 12
    public async Task Update_CarriesOnlyTheChangedResource()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Endpoint, "c1", "c2");
        var first = await client.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c1", "c2"], FakeDeltaClient.Names(first));
        await client.AckAsync(first);

        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9999)]));
        var update = await client.ReceiveAsync(TypeUrls.Endpoint);

        Assert.Equal(["c2"], FakeDeltaClient.Names(update));
        Assert.Empty(update.RemovedResources);
        Assert.NotEqual(first.SystemVersionInfo, update.SystemVersionInfo);
    }

    [Fact] // Rules 8 and 12: deletions are explicit in delta
    public async Task DeletedCluster_IsListedInRemovedResources()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster);
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c2"], FakeDeltaClient.Names(first));
        await client.AckAsync(first);

        Server.Publish(Mesh(clusters: [("c1", 9001)]));
        var removal = await client.ReceiveAsync(TypeUrls.Cluster);

        Assert.Empty(removal.Resources);
        Assert.Equal(["c2"], removal.RemovedResources);
    }

    [Fact] // Rule 12, go-control-plane #565 and PR #488
    public async Task SubscriptionToAMissingName_IsAnsweredAsRemoved_AndDeliveredWhenItAppears()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Route, "later-routes");
        var missing = await client.ReceiveAsync(TypeUrls.Route);
        Assert.Empty(missing.Resources);
        Assert.Equal(["later-routes"], missing.RemovedResources);
        await client.AckAsync(missing);

        Server.Publish(Snapshot.Create([Listener("app", "later-routes"), Route("later-routes", "c1"), Cluster("c1"), Endpoints("c1", 9001)]));
        var created = await client.ReceiveAsync(TypeUrls.Route);
        Assert.Equal(["later-routes"], FakeDeltaClient.Names(created));
    }

    [Fact] // Rule 13
    public async Task Resubscribe_ToANameTheClientHas_SendsItAgain()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Endpoint, "c1");
        var first = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(first);

        await client.SubscribeAsync(TypeUrls.Endpoint, "c1");
        var again = await client.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c1"], FakeDeltaClient.Names(again));
    }

    [Fact] // Rule 13
    public async Task UnsubscribeOfANameNeverSubscribed_IsIgnored()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Endpoint, "c1");
        var first = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(first);

        await client.UnsubscribeAsync(TypeUrls.Endpoint, "never-subscribed");
        await client.ExpectNoResponseAsync("to an unsubscribe of a name never subscribed");
        Server.Publish(Mesh(clusters: [("c1", 9111), ("c2", 9002)]));
        var update = await client.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c1"], FakeDeltaClient.Names(update));
    }

    [Fact] // Rule 13: '*' plus a specific name; unsubscribing the name sends its state again
    public async Task WildcardPlusName_UnsubscribingTheName_SendsItAgainAsAResource()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster, "*", "c1");
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c2"], FakeDeltaClient.Names(first));
        await client.AckAsync(first);

        await client.UnsubscribeAsync(TypeUrls.Cluster, "c1");
        var again = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1"], FakeDeltaClient.Names(again));
    }

    [Fact] // Rule 13, the removed case
    public async Task WildcardPlusMissingName_UnsubscribingTheName_SendsItAgainAsRemoved()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster, "*", "ghost");
        var upserts = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c2"], FakeDeltaClient.Names(upserts));
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["ghost"], first.RemovedResources);
        await client.AckAsync(first);

        await client.UnsubscribeAsync(TypeUrls.Cluster, "ghost");
        var again = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Empty(again.Resources);
        Assert.Equal(["ghost"], again.RemovedResources);
    }

    [Fact] // Rule 9 for delta: empty first subscribe is the legacy wildcard
    public async Task EmptyFirstSubscribe_IsWildcard_AndNewResourcesArrive()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster);
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(first);

        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("c3", 9003)]));
        var added = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c3"], FakeDeltaClient.Names(added));
    }

    [Fact] // Rule 14
    public async Task Reconnect_WithInitialResourceVersions_SendsOnlyWhatDiffers()
    {
        Dictionary<string, string> held;
        await using (var before = Server.Delta("reconnecting"))
        {
            await before.SubscribeAsync(TypeUrls.Endpoint, "c1", "c2");
            var first = await before.ReceiveAsync(TypeUrls.Endpoint);
            held = first.Resources.ToDictionary(r => r.Name, r => r.Version);
        }
        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9222)]));

        await using var after = Server.Delta("reconnecting");
        await after.SendAsync(new DeltaDiscoveryRequest
        {
            TypeUrl = TypeUrls.Endpoint,
            ResourceNamesSubscribe = { "c1", "c2" },
            InitialResourceVersions = { held },
        });
        var diff = await after.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c2"], FakeDeltaClient.Names(diff));
    }

    [Fact] // Rule 14: nothing differs, nothing is sent, and the client shows as SYNCED
    public async Task Reconnect_HoldingEverything_GetsNothing_AndIsSynced()
    {
        Dictionary<string, string> held;
        await using (var before = Server.Delta("holder"))
        {
            await before.SubscribeAsync(TypeUrls.Endpoint, "c1");
            held = (await before.ReceiveAsync(TypeUrls.Endpoint)).Resources.ToDictionary(r => r.Name, r => r.Version);
        }
        await using var after = Server.Delta("holder");
        await after.SendAsync(new DeltaDiscoveryRequest { TypeUrl = TypeUrls.Endpoint, ResourceNamesSubscribe = { "c1" }, InitialResourceVersions = { held } });

        await after.ExpectNoResponseAsync("to a client that already holds the current version");
        var view = (await Server.ClientsAsync("holder")).Single();
        Assert.Equal("delta-ads", view.GetProperty("stream").GetString());
        var eds = view.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == "EDS");
        Assert.Equal("SYNCED", eds.GetProperty("status").GetString());
    }

    [Fact] // Rule 6 for delta
    public async Task StaleNonce_StillChangesTheSubscription()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Endpoint, "c1");
        var first = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(first);
        Server.Publish(Mesh(clusters: [("c1", 9111), ("c2", 9002)]));
        await client.ReceiveAsync(TypeUrls.Endpoint);

        await client.SendAsync(new DeltaDiscoveryRequest { TypeUrl = TypeUrls.Endpoint, ResponseNonce = first.Nonce, ResourceNamesSubscribe = { "c2" } });
        var subscribed = await client.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c2"], FakeDeltaClient.Names(subscribed));
    }

    [Fact] // Rule 4 for delta
    public async Task Nack_IsRecorded_AndTheRejectedResourceIsNotResent()
    {
        await using var client = Server.Delta("delta-nacker");
        await client.SubscribeAsync(TypeUrls.Cluster);
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(first);
        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("bad", 9003)]));
        var rejected = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.NackAsync(rejected, "cluster 'bad' is not acceptable");

        await client.ExpectNoResponseAsync("after a NACK while the config is unchanged");
        var view = (await Server.ClientsAsync("delta-nacker")).Single();
        var cds = view.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == "CDS");
        Assert.Equal("NACKED", cds.GetProperty("status").GetString());
        Assert.Equal("cluster 'bad' is not acceptable", cds.GetProperty("lastNack").GetProperty("message").GetString());
    }

    [Fact] // Rule 15 for delta: a cluster and its endpoints are removed only after the route moved off them
    public async Task ClusterReplacedUnderARoute_IsRemovedOnlyAfterTheNewRoute()
    {
        await using var client = Server.Delta();
        foreach (var (type, names) in new[] { (TypeUrls.Cluster, Array.Empty<string>()), (TypeUrls.Endpoint, new[] { "c1", "c2" }), (TypeUrls.Listener, Array.Empty<string>()), (TypeUrls.Route, new[] { "app-routes" }) })
        {
            await client.SubscribeAsync(type, names);
            await client.AckAsync(await client.ReceiveAsync(type));
        }

        // c1 goes away; the route moves to the new cluster c3.
        Server.Publish(Snapshot.Create([Listener("app", "app-routes"), Route("app-routes", "c3"), Cluster("c2"), Endpoints("c2", 9002), Cluster("c3"), Endpoints("c3", 9003)]));
        var seen = new List<string>();
        while (!seen.Contains("EDS-removed"))
        {
            var response = await client.ReceiveAsync();
            seen.Add(TypeUrls.ShortName(response.TypeUrl) + (response.Resources.Count == 0 && response.RemovedResources.Count > 0 ? "-removed" : ""));
            await client.AckAsync(response);
        }
        Assert.Equal(["CDS", "RDS", "CDS-removed", "EDS-removed"], seen);
    }

    [Fact] // Rule 15 for delta, go-control-plane #245
    public async Task ClusterUpdate_IsFollowedByItsEndpoints_EvenWhenTheyDidNotChange()
    {
        await using var client = Server.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(await client.ReceiveAsync(TypeUrls.Cluster));
        await client.SubscribeAsync(TypeUrls.Endpoint, "c1", "c2");
        await client.AckAsync(await client.ReceiveAsync(TypeUrls.Endpoint));

        Server.Publish(Snapshot.Create([Listener("app", "app-routes"), Route("app-routes", "c1"), Cluster("c1", connectTimeoutMs: 2500), Endpoints("c1", 9001), Cluster("c2"), Endpoints("c2", 9002)]));
        var clusters = await client.ReceiveAsync(TypeUrls.Cluster);
        var endpoints = await client.ReceiveAsync(TypeUrls.Endpoint);

        Assert.Equal(["c1"], FakeDeltaClient.Names(clusters));
        Assert.Equal(["c1"], FakeDeltaClient.Names(endpoints));
    }
}
