using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using Envoy.Config.Bootstrap.V3;
using Google.Protobuf;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.RealEnvoy;

/// <summary>
/// A real Envoy (pinned image) boots against the server and its /config_dump shows the compiled
/// listeners and clusters. Needs Docker; skipped with the reason where no engine answers.
/// </summary>
public sealed class EnvoyContainerTests
{
    /// <summary>Pinned: the Envoy release these tests were written against.</summary>
    public const string EnvoyImage = PinnedEnvoy.Image;

    [Fact]
    public void TheBootstrap_ParsesAsUpstreamBootstrap()
    {
        var bootstrap = new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(EnvoyTypeRegistry.Instance)).Parse<Bootstrap>(EnvoyBootstrap.Direct("default/local", "host.testcontainers.internal", 18000));

        Assert.Equal("default/local", bootstrap.Node.Id);
        Assert.Equal(Envoy.Config.Core.V3.ApiConfigSource.Types.ApiType.DeltaGrpc, bootstrap.DynamicResources.AdsConfig.ApiType);
        Assert.Equal("zenmesh-xds", bootstrap.StaticResources.Clusters.Single().Name);
    }

    [DockerFact]
    public async Task Envoy_BootsAgainstTheServer_AndItsConfigDumpShowsTheCompiledListenersAndClusters()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders","retry":{"retries":2,"perTryTimeout":"2s"},"maxInFlight":64}"""));
        // The container reaches the server's loopback port through Testcontainers' host tunnel.
        await TestcontainersSettings.ExposeHostPortsAsync((ushort)server.AdsUri.Port);
        await using var envoy = new ContainerBuilder(EnvoyImage)
            .WithResourceMapping(Encoding.UTF8.GetBytes(EnvoyBootstrap.Direct("default/local", "host.testcontainers.internal", server.AdsUri.Port)), "/etc/envoy/envoy.json")
            .WithCommand("-c", "/etc/envoy/envoy.json", "--log-level", "info")
            .WithPortBinding(EnvoyBootstrap.AdminPort, true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(EnvoyBootstrap.AdminPort).ForPath("/ready")))
            .Build();
        await envoy.StartAsync();

        using var admin = new HttpClient { BaseAddress = new Uri($"http://{envoy.Hostname}:{envoy.GetMappedPublicPort(EnvoyBootstrap.AdminPort)}") };
        var dump = JsonDocument.Parse(await admin.GetStringAsync("/config_dump")).RootElement.ToString();
        Assert.Contains("\"zenmesh-ingress\"", dump, StringComparison.Ordinal);
        Assert.Contains("\"zenmesh-egress\"", dump, StringComparison.Ordinal);
        Assert.Contains("\"flow-gh-orders\"", dump, StringComparison.Ordinal);
        Assert.Contains("\"zenmesh-ingester\"", dump, StringComparison.Ordinal);
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/api/v1/status")).GetProperty("edges").EnumerateArray().Single().GetProperty("synced").GetBoolean(), "the server to see Envoy ACK everything it was sent");
    }
}
