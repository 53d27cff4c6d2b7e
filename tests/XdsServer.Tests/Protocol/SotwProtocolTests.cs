using Envoy.Config.Cluster.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Service.Discovery.V3;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;

namespace ZenMesh.XdsServer.Tests.Protocol;

/// <summary>State-of-the-world ADS, rule by rule (../shared/XDS-PROTOCOL.md).</summary>
public sealed class SotwProtocolTests : ServerTest
{

    [Fact] // Rule 1
    public async Task Responses_EachCarryAFreshNonce_AndAnAckEchoesTheLatest()
    {
        await using var client = Server.Sotw("nonce-node");
        await client.RequestAsync(TypeUrls.Cluster);
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(first);
        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("c3", 9003)]));
        var second = await client.ReceiveAsync(TypeUrls.Cluster);

        Assert.NotEqual(first.Nonce, second.Nonce);
        Assert.NotEqual(first.VersionInfo, second.VersionInfo);

        // An ACK counts only when it echoes the latest nonce: one that names the new version but
        // echoes the first response's nonce is stale, and records nothing.
        await client.SendAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Cluster, VersionInfo = second.VersionInfo, ResponseNonce = first.Nonce });
        await client.ExpectNoResponseAsync("to an ACK echoing a stale nonce");
        Assert.Equal(first.VersionInfo, await AckedAsync());
        await client.AckAsync(second);
        await TestTimeouts.Eventually(async () => await AckedAsync() == second.VersionInfo, "the ACK echoing the latest nonce to be recorded");

        async Task<string?> AckedAsync() =>
            (await Server.ClientsAsync("nonce-node")).Single().GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == "CDS").GetProperty("lastAckedVersion").GetString();
    }

    [Fact] // Rule 1: nonces do not survive a reconnect
    public async Task NewStream_RequestEchoingANonceOfAnEarlierStream_IsStale()
    {
        string oldNonce;
        string oldVersion;
        await using (var before = Server.Sotw())
        {
            await before.RequestAsync(TypeUrls.Cluster);
            var response = await before.ReceiveAsync(TypeUrls.Cluster);
            (oldNonce, oldVersion) = (response.Nonce, response.VersionInfo);
        }
        await using var after = Server.Sotw();
        await after.SendAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Cluster, VersionInfo = oldVersion, ResponseNonce = oldNonce });

        await after.ExpectNoResponseAsync("to a nonce this stream never sent");
    }

    [Fact] // Rule 2
    public async Task Node_SentOnlyOnTheFirstRequest_IsRememberedForTheStream()
    {
        await using var client = Server.Sotw("remembered-node");
        await client.RequestAsync(TypeUrls.Cluster);
        await client.ReceiveAsync(TypeUrls.Cluster);
        await client.RequestAsync(TypeUrls.Listener); // no node on this one
        await client.ReceiveAsync(TypeUrls.Listener);

        var clients = await Server.ClientsAsync("remembered-node");
        Assert.Single(clients);
        Assert.Equal("test-cluster", clients[0].GetProperty("cluster").GetString());
    }

    [Fact] // Rule 2
    public async Task FirstRequest_WithoutNode_IsRefusedWithInvalidArgument()
    {
        var call = new Envoy.Service.Discovery.V3.AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(Server.Channel()).StreamAggregatedResources();
        await call.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Cluster });
        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("the server to refuse the stream"));
        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("The first request on an xDS stream must carry 'node' (at least node.id); this one has none. Set node in the first request of every stream.", error.Status.Detail);
    }

    [Fact] // Rule 3: versions per type; only the changed type is answered
    public async Task EndpointChange_ChangesOnlyTheEdsVersion_AndAnswersOnlyEds()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var cds = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        await client.RequestAsync(TypeUrls.Endpoint, "c1", "c2");
        var eds = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(eds, "c1", "c2");

        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9999)]));
        var edsAgain = await client.ReceiveAsync(TypeUrls.Endpoint);

        Assert.NotEqual(eds.VersionInfo, edsAgain.VersionInfo);
        await client.ExpectNoResponseAsync("for CDS, whose resources did not change");
    }

    [Fact] // Rule 3: versions come from content, so a restarted server does not collide with what clients hold
    public async Task Version_ForTheSameContent_IsTheSameAcrossServers_AndDiffersForOtherContent()
    {
        await using var other = await RunningServer.StartAsync();
        other.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002)]));
        await using var a = Server.Sotw();
        await using var b = other.Sotw();
        await a.RequestAsync(TypeUrls.Cluster);
        await b.RequestAsync(TypeUrls.Cluster);
        var fromA = await a.ReceiveAsync(TypeUrls.Cluster);
        var fromB = await b.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(fromA.VersionInfo, fromB.VersionInfo);

        other.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("c3", 9003)]));
        await b.AckAsync(fromB);
        var changed = await b.ReceiveAsync(TypeUrls.Cluster);
        Assert.NotEqual(fromA.VersionInfo, changed.VersionInfo);
    }

    [Fact] // Rule 4 and go-control-plane #962
    public async Task Nack_IsRecorded_AndTheRejectedVersionIsNotResent()
    {
        await using var client = Server.Sotw("nacking-node");
        await client.RequestAsync(TypeUrls.Cluster);
        var good = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(good);
        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("bad", 9003)]));
        var rejected = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.NackAsync(rejected, good.VersionInfo, "cluster 'bad': unknown field");

        await client.ExpectNoResponseAsync("after a NACK while the config is unchanged");
        var view = (await Server.ClientsAsync("nacking-node")).Single();
        var cds = view.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == "CDS");
        Assert.Equal("NACKED", cds.GetProperty("status").GetString());
        Assert.Equal(good.VersionInfo, cds.GetProperty("lastAckedVersion").GetString());
        var nack = view.GetProperty("lastNack");
        Assert.Equal(rejected.VersionInfo, nack.GetProperty("version").GetString());
        Assert.Equal("cluster 'bad': unknown field", nack.GetProperty("message").GetString());
        Assert.Equal(TypeUrls.Cluster, nack.GetProperty("typeUrl").GetString());

        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("fixed", 9003)]));
        var next = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Contains("fixed", FakeSotwClient.Names(next));
    }

    [Fact] // Rule 5
    public async Task Ack_OfUnchangedConfig_IsNotAnswered_AndANewRequestReplacesTheOld()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Endpoint, "c1");
        var first = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(first, "c1");
        await client.ExpectNoResponseAsync("to an ACK of unchanged config");

        await client.AckAsync(first, "c2");
        var replaced = await client.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c2"], FakeSotwClient.Names(replaced));
    }

    [Fact] // Rule 6, envoy #3355, java-control-plane #70
    public async Task StaleNonce_IsNotAnswered_ButTheClientStillGetsLaterUpdates()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(first);
        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("c3", 9003)]));
        var second = await client.ReceiveAsync(TypeUrls.Cluster);

        await client.SendAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Cluster, VersionInfo = first.VersionInfo, ResponseNonce = first.Nonce, ResourceNames = { "c1", "c2", "c3", "c4" } });
        await client.ExpectNoResponseAsync("to a request that echoes a stale nonce");

        await client.AckAsync(second);
        Server.Publish(Mesh(clusters: [("c1", 9001)]));
        var third = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1"], FakeSotwClient.Names(third));
    }

    [Fact] // Rule 7
    public async Task GrowingSubscription_SendsTheNewNames_EvenIfUnchanged()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Endpoint, "c1");
        var first = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(first, "c1", "c2");
        var grown = await client.ReceiveAsync(TypeUrls.Endpoint);

        Assert.Equal(["c1", "c2"], FakeSotwClient.Names(grown));
    }

    [Fact] // Rule 8
    public async Task ClusterRemovedFromSnapshot_IsMissingFromTheNextCdsResponse()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var first = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c2"], FakeSotwClient.Names(first));
        await client.AckAsync(first);

        Server.Publish(Snapshot.Create([Listener("app", "app-routes"), Route("app-routes", "c1"), Cluster("c1"), Endpoints("c1", 9001)]));
        var second = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1"], FakeSotwClient.Names(second));

        await client.AckAsync(second);
        Server.Publish(Snapshot.Create([]));
        var empty = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Empty(empty.Resources);
    }

    [Fact] // Rule 9
    public async Task Wildcard_EmptyFirstRequestMeansAll_NamesThenNarrow_EmptyAfterNamesUnsubscribesAll()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var all = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c2"], FakeSotwClient.Names(all));

        await client.AckAsync(all, "c2");
        var narrowed = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c2"], FakeSotwClient.Names(narrowed));

        await client.AckAsync(narrowed);
        Server.Publish(Mesh(clusters: [("c1", 9001), ("c2", 9002), ("c3", 9003)]));
        await client.ExpectNoResponseAsync("after an empty request unsubscribed from every cluster");
    }

    [Fact] // Rule 9
    public async Task Wildcard_StarCombinedWithAName_SendsEverything()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster, "*", "c2");
        var response = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c2"], FakeSotwClient.Names(response));
    }

    [Fact] // Rule 11, envoy #9934
    public async Task UnknownEdsName_IsAnsweredWithAnEmptyAssignment_SoTheClusterDoesNotWarmForever()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Endpoint, "c1", "not-here");
        var response = await client.ReceiveAsync(TypeUrls.Endpoint);

        Assert.Equal(["c1", "not-here"], FakeSotwClient.Names(response));
        var placeholder = response.Resources[1].Unpack<ClusterLoadAssignment>();
        Assert.Empty(placeholder.Endpoints);
    }

    [Fact] // Rule 11
    public async Task RequestedRouteThatDoesNotExistYet_IsPushedWhenItAppears()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Route, "later-routes");
        var first = await client.ReceiveAsync(TypeUrls.Route);
        Assert.Empty(first.Resources);
        await client.AckAsync(first, "later-routes");

        Server.Publish(Snapshot.Create([Listener("app", "later-routes"), Route("later-routes", "c1"), Cluster("c1"), Endpoints("c1", 9001)]));
        var later = await client.ReceiveAsync(TypeUrls.Route);
        Assert.Equal(["later-routes"], FakeSotwClient.Names(later));
    }

    [Fact] // Rule 15: make before break
    public async Task SnapshotChangingEveryType_IsPushedInOrderCdsEdsLdsRds()
    {
        await using var client = Server.Sotw();
        var acked = new Dictionary<string, DiscoveryResponse>();
        foreach (var (type, names) in new[] { (TypeUrls.Cluster, Array.Empty<string>()), (TypeUrls.Endpoint, new[] { "c1", "c2" }), (TypeUrls.Listener, Array.Empty<string>()), (TypeUrls.Route, new[] { "app-routes" }) })
        {
            await client.RequestAsync(type, names);
            var response = await client.ReceiveAsync(type);
            await client.AckAsync(response, names);
            acked[type] = response;
        }

        Server.Publish(Snapshot.Create([
            Listener("app", "app-routes", statPrefix: "app-v2"),
            Route("app-routes", "c2"),
            Cluster("c1"), Endpoints("c1", 9101),
            Cluster("c2"), Endpoints("c2", 9102),
            Cluster("c3"), Endpoints("c3", 9103),
        ]));
        var order = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var response = await client.ReceiveAsync();
            order.Add(TypeUrls.ShortName(response.TypeUrl));
            await client.AckAsync(response, response.TypeUrl == TypeUrls.Endpoint ? ["c1", "c2"] : response.TypeUrl == TypeUrls.Route ? ["app-routes"] : []);
        }
        Assert.Equal(["CDS", "EDS", "LDS", "RDS"], order);
    }

    [Fact] // Rule 15, go-control-plane #245
    public async Task CdsUpdate_IsFollowedByEds_EvenWhenEndpointsDidNotChange()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var cds = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        await client.RequestAsync(TypeUrls.Endpoint, "c1", "c2");
        var eds = await client.ReceiveAsync(TypeUrls.Endpoint);
        await client.AckAsync(eds, "c1", "c2");

        // Only a cluster setting changes; endpoints stay exactly as they were.
        Server.Publish(Snapshot.Create([Listener("app", "app-routes"), Route("app-routes", "c1"), Cluster("c1", connectTimeoutMs: 2500), Endpoints("c1", 9001), Cluster("c2"), Endpoints("c2", 9002)]));
        var newCds = await client.ReceiveAsync(TypeUrls.Cluster);
        var edsAgain = await client.ReceiveAsync(TypeUrls.Endpoint);

        Assert.Equal(2500, newCds.Resources.Select(r => r.Unpack<Cluster>()).Single(c => c.Name == "c1").ConnectTimeout.ToTimeSpan().TotalMilliseconds);
        Assert.Equal(eds.VersionInfo, edsAgain.VersionInfo);
        Assert.Equal(["c1", "c2"], FakeSotwClient.Names(edsAgain));
    }

    [Fact] // Kuma #12098: snapshot swapped between the CDS answer and the EDS request
    public async Task SnapshotSwappedMidHandshake_EdsRequestForTheOldClusters_IsAnsweredAtOnce()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var cds = await client.ReceiveAsync(TypeUrls.Cluster);

        Server.Publish(Mesh(clusters: [("c1", 9001), ("c3", 9003)]));
        await client.RequestAsync(TypeUrls.Endpoint, "c1", "c2"); // names from the CDS it has, before ACKing
        var eds = await client.ReceiveAsync(TypeUrls.Endpoint);
        Assert.Equal(["c1", "c2"], FakeSotwClient.Names(eds));

        await client.AckAsync(cds);
        var newCds = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c1", "c3"], FakeSotwClient.Names(newCds));
    }

    [Fact] // Rule 16
    public async Task MissingTypeUrlOnAds_IsInvalidArgument_WithAClearMessage()
    {
        await using var client = Server.Sotw();
        await client.SendAsync(new DiscoveryRequest());
        var error = await client.FailureAsync();

        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("The request has no type_url. On an aggregated (ADS) stream every request must name its resource type, e.g. 'type.googleapis.com/envoy.config.cluster.v3.Cluster'.", error.Status.Detail);
    }

    [Fact] // Rule 16
    public async Task UnknownTypeUrl_IsUnimplemented_NeverASilentlyParkedWatch()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync("type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration");
        var error = await client.FailureAsync();

        Assert.Equal(Grpc.Core.StatusCode.Unimplemented, error.StatusCode);
        Assert.StartsWith("type_url 'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration' is not served by this server. Served types: ", error.Status.Detail);
    }

    [Fact] // Rule 16
    public async Task MalformedTypeUrl_IsInvalidArgument()
    {
        await using var client = Server.Sotw();
        await client.RequestAsync("envoy.config.cluster.v3.Cluster");
        var error = await client.FailureAsync();

        Assert.Equal(Grpc.Core.StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("type_url 'envoy.config.cluster.v3.Cluster' is malformed: it must start with 'type.googleapis.com/', e.g. 'type.googleapis.com/envoy.config.cluster.v3.Cluster'.", error.Status.Detail);
    }

    [Fact] // envoyproxy/gateway #6618: per-node state is dropped when the stream ends
    public async Task Disconnect_RemovesTheClient_AndAReturningClientStartsFresh()
    {
        var client = Server.Sotw("returning-node");
        await client.RequestAsync(TypeUrls.Cluster);
        await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Single(await Server.ClientsAsync("returning-node"));
        await client.CloseAsync();
        await client.DisposeAsync();
        await TestTimeouts.Eventually(async () => (await Server.ClientsAsync("returning-node")).Length == 0, "the closed stream is gone from /admin/xds/clients");

        Server.Publish(Mesh(clusters: [("c9", 9009)]));
        await using var back = Server.Sotw("returning-node");
        await back.RequestAsync(TypeUrls.Cluster);
        var fresh = await back.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(["c9"], FakeSotwClient.Names(fresh));
    }

    [Fact] // Rule 15: then remove stale clusters (SotW cannot remove later, so CDS keeps them until routes moved)
    public async Task ClusterReplacedUnderARoute_StaysInCdsUntilTheNewRouteIsAcked()
    {
        await using var client = Server.Sotw();
        foreach (var (type, names) in new[] { (TypeUrls.Cluster, Array.Empty<string>()), (TypeUrls.Endpoint, new[] { "c1", "c2" }), (TypeUrls.Listener, Array.Empty<string>()), (TypeUrls.Route, new[] { "app-routes" }) })
        {
            await client.RequestAsync(type, names);
            await client.AckAsync(await client.ReceiveAsync(type), names);
        }

        // c1 goes away; the route moves to the new cluster c3.
        Server.Publish(Snapshot.Create([Listener("app", "app-routes"), Route("app-routes", "c3"), Cluster("c2"), Endpoints("c2", 9002), Cluster("c3"), Endpoints("c3", 9003)]));
        var seen = new List<string>();
        while (!(seen.Count > 0 && seen[^1] == "CDS[c2,c3]"))
        {
            var response = await client.ReceiveAsync();
            seen.Add($"{TypeUrls.ShortName(response.TypeUrl)}[{string.Join(",", FakeSotwClient.Names(response))}]");
            await client.AckAsync(response, response.TypeUrl == TypeUrls.Endpoint ? ["c1", "c2", "c3"] : response.TypeUrl == TypeUrls.Route ? ["app-routes"] : []);
            Assert.True(seen.Count < 8, $"no final CDS after {string.Join(" ", seen)}");
        }

        Assert.Equal("CDS[c1,c2,c3]", seen[0]);
        Assert.True(seen.IndexOf("RDS[app-routes]") < seen.Count - 1, $"RDS must come before the final CDS: {string.Join(" ", seen)}");
    }
}
