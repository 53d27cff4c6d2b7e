using Envoy.Admin.V3;
using Envoy.Service.Status.V3;
using Envoy.Type.Matcher.V3;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;
using Csds = Envoy.Service.Status.V3.ClientStatusDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Services;

public sealed class ClientStatusServiceTests : ServerTest
{

    private async Task<ClientConfig> StatusOf(string nodeId)
    {
        var request = new ClientStatusRequest { NodeMatchers = { new NodeMatcher { NodeId = new StringMatcher { Exact = nodeId } } } };
        var response = await new Csds.ClientStatusDiscoveryServiceClient(Server.Channel()).FetchClientStatusAsync(request).ResponseAsync.WithTimeout("CSDS");
        return Assert.Single(response.Config);
    }

    [Fact]
    public async Task FetchClientStatus_AfterAck_ReportsEveryResourceSynced()
    {
        await using var client = Server.Sotw("csds-synced");
        await client.RequestAsync(TypeUrls.Cluster);
        var cds = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        await client.ExpectNoResponseAsync("to an ACK"); // the ACK has been handled once the probe is answered

        var config = await StatusOf("csds-synced");
        var clusters = config.GenericXdsConfigs.Where(c => c.TypeUrl == TypeUrls.Cluster).ToList();
        Assert.Equal(["c1", "c2"], clusters.Select(c => c.Name));
        Assert.All(clusters, c =>
        {
            Assert.Equal(ConfigStatus.Synced, c.ConfigStatus);
            Assert.Equal(ClientResourceStatus.Acked, c.ClientStatus);
            Assert.Equal(cds.VersionInfo, c.VersionInfo);
            Assert.NotNull(c.XdsConfig);
        });
    }

    [Fact]
    public async Task FetchClientStatus_SentButNotAcked_IsStale_AndNackedIsErrorWithDetails()
    {
        await using var client = Server.Sotw("csds-nack");
        await client.RequestAsync(TypeUrls.Cluster);
        var cds = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.All((await StatusOf("csds-nack")).GenericXdsConfigs, c => Assert.Equal(ConfigStatus.Stale, c.ConfigStatus));

        await client.NackAsync(cds, "", "no thanks");
        await client.ExpectNoResponseAsync("after a NACK");
        var config = await StatusOf("csds-nack");
        var nacked = config.GenericXdsConfigs.Where(c => c.TypeUrl == TypeUrls.Cluster).ToList();
        Assert.NotEmpty(nacked);
        Assert.All(nacked, c =>
        {
            Assert.Equal(ConfigStatus.Error, c.ConfigStatus);
            Assert.Equal(ClientResourceStatus.Nacked, c.ClientStatus);
            Assert.Equal("no thanks", c.ErrorState.Details);
            Assert.Equal(cds.VersionInfo, c.ErrorState.VersionInfo);
        });
    }

    [Fact]
    public async Task FetchClientStatus_NodeMatcher_SelectsByPrefix_AndExcludesContentsOnRequest()
    {
        await using var one = Server.Sotw("edge-a/one");
        await using var two = Server.Sotw("edge-b/two");
        foreach (var client in new[] { one, two })
        {
            await client.RequestAsync(TypeUrls.Cluster);
            await client.ReceiveAsync(TypeUrls.Cluster);
        }
        var request = new ClientStatusRequest
        {
            ExcludeResourceContents = true,
            NodeMatchers = { new NodeMatcher { NodeId = new StringMatcher { Prefix = "edge-a/" } } },
        };
        var response = await new Csds.ClientStatusDiscoveryServiceClient(Server.Channel()).FetchClientStatusAsync(request).ResponseAsync.WithTimeout("CSDS");

        var config = Assert.Single(response.Config);
        Assert.Equal("edge-a/one", config.Node.Id);
        Assert.All(config.GenericXdsConfigs, c => Assert.Null(c.XdsConfig));
    }
}
