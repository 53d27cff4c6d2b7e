using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;

namespace ZenMesh.XdsServer.Tests.Hosting;

/// <summary>
/// GET /metrics on the control plane: connected clients and their sync state, pushes and NACKs by
/// type, and the time from a push to its ACK, as a Prometheus scrape sees them after real xDS traffic.
/// </summary>
public sealed class XdsServerMetricsTests : ServerTest
{
    private async Task<Dictionary<string, double>> ScrapeAsync()
    {
        using var response = await Server.Http.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        return (await response.Content.ReadAsStringAsync()).Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => double.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task AfterAPushAnAckAndANack_TheScrapeCountsEachAndTheClientsState()
    {
        var before = await ScrapeAsync();
        await using var client = Server.Sotw("metrics-node");
        await client.RequestAsync(TypeUrls.Cluster);
        var good = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.AckAsync(good);
        // The counter and the client's state are recorded one after the other: a scrape may fall between them.
        await TestTimeouts.Eventually(async () => await ScrapeAsync() is var m && m.GetValueOrDefault("zenmesh_xds_push_ack_seconds_count") == 1 && m.GetValueOrDefault("zenmesh_xds_client_types{state=\"synced\"}") == 1, "the ACK counted");
        var synced = await ScrapeAsync();

        Server.Publish(Mesh(clusters: [("c1", 9001), ("bad", 9003)]));
        var rejected = await client.ReceiveAsync(TypeUrls.Cluster);
        await client.NackAsync(rejected, good.VersionInfo, "cluster 'bad': unknown field");
        await TestTimeouts.Eventually(async () => await ScrapeAsync() is var m && m.GetValueOrDefault("zenmesh_xds_nacks_total{type=\"CDS\"}") == 1 && m.GetValueOrDefault("zenmesh_xds_client_types{state=\"nacked\"}") == 1, "the NACK counted");
        var nacked = await ScrapeAsync();

        Assert.Equal(0, before["zenmesh_xds_connected_clients"]);
        Assert.False(before.ContainsKey("zenmesh_xds_pushes_total{type=\"CDS\"}"));
        Assert.Equal(1, synced["zenmesh_xds_connected_clients"]);
        Assert.Equal(1, synced["zenmesh_xds_pushes_total{type=\"CDS\"}"]);
        Assert.Equal(1, synced["zenmesh_xds_client_types{state=\"synced\"}"]);
        Assert.Equal(1, synced["zenmesh_xds_push_ack_seconds_bucket{le=\"+Inf\"}"]);
        Assert.Equal(2, nacked["zenmesh_xds_pushes_total{type=\"CDS\"}"]);
        Assert.Equal(1, nacked["zenmesh_xds_client_types{state=\"nacked\"}"]);
        Assert.Equal(0, nacked["zenmesh_xds_client_types{state=\"synced\"}"]);
        Assert.Equal(1, nacked["zenmesh_xds_push_ack_seconds_count"]);
    }
}
