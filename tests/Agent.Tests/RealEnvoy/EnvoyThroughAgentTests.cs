using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ZenMesh.Agent.Bootstrap;
using ZenMesh.Agent.Tests.Infrastructure;

namespace ZenMesh.Agent.Tests.RealEnvoy;

/// <summary>
/// A real Envoy (pinned image), bootstrapped from envoy-config/edge-bootstrap.yaml against the
/// agent: its ingress listener routes a webhook to the edge's ingester (here a stand-in on the
/// host); with the control plane killed and Envoy restarted, its /config_dump shows the full config
/// from the agent's last-known-good and it routes again. (The egress listener binds the
/// container's loopback, so the ingress path is the one a test outside the container can drive.)
/// Needs Docker; skipped with the reason where no engine answers (gRPC's xDS client covers the
/// same scenario here: RealClient/GrpcXdsThroughAgentTests).
/// </summary>
public sealed class EnvoyThroughAgentTests : IAsyncDisposable
{
    private const string EnvoyImage = ZenMesh.XdsServer.Tests.RealEnvoy.PinnedEnvoy.Image;
    private const string HostAlias = "host.testcontainers.internal";
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-envoy-").FullName;
    private readonly ConcurrentQueue<string> _delivered = new();

    public ValueTask DisposeAsync()
    {
        Directory.Delete(_stateDir, recursive: true);
        return ValueTask.CompletedTask;
    }

    private async Task<WebApplication> StartTargetAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapPost("/{**path}", (HttpContext http) =>
        {
            _delivered.Enqueue(http.Request.Path.Value ?? "");
            return Results.Ok();
        });
        await app.StartAsync();
        return app;
    }

    private static async Task<string> ConfigDumpAsync(IContainer envoy)
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://{envoy.Hostname}:{envoy.GetMappedPublicPort(9901)}") };
        return await admin.GetStringAsync("/config_dump");
    }

    private static async Task<HttpStatusCode> DeliverAsync(IContainer envoy)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://{envoy.Hostname}:{envoy.GetMappedPublicPort(10000)}") };
        using var response = await http.PostAsync("/hooks/default/gh", new StringContent("{}", Encoding.UTF8, "application/json"));
        return response.StatusCode;
    }

    [DockerFact]
    public async Task Envoy_RoutesOnTheAgentsConfig_AndAfterARestartWithTheControlPlaneDown()
    {
        var ingesterPort = TestPorts.ForAnotherProcess();
        await using var ingester = await StartTargetAsync(ingesterPort);
        var server = await RunningServer.StartAsync();
        await server.PutAllOkAsync(
            ("edges/local", $$"""{"mode":"vm","ingesterAddress":"{{HostAlias}}:{{ingesterPort}}"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders"}"""));
        var xdsPort = TestPorts.ForAnotherProcess();
        await using var agent = await RunningAgent.StartAsync(server.AdsUri.ToString(), _stateDir, null, "--xds-port", xdsPort.ToString(CultureInfo.InvariantCulture));
        await TestcontainersSettings.ExposeHostPortsAsync([(ushort)ingesterPort, (ushort)xdsPort]);
        var bootstrap = EdgeBootstrap.Render(await File.ReadAllTextAsync(RepoPaths.Combine("envoy-config", "edge-bootstrap.yaml")), "default/local", xdsPort, 9901, agentXdsAddress: HostAlias, adminAddress: "0.0.0.0");
        await using var envoy = new ContainerBuilder(EnvoyImage)
            .WithResourceMapping(Encoding.UTF8.GetBytes(bootstrap), "/etc/envoy/envoy.yaml")
            .WithCommand("-c", "/etc/envoy/envoy.yaml")
            .WithPortBinding(9901, true)
            .WithPortBinding(10000, true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(9901).ForPath("/ready")))
            .Build();
        await envoy.StartAsync();

        Assert.Contains("\"flow-gh-orders\"", await ConfigDumpAsync(envoy), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, await DeliverAsync(envoy));
        Assert.Equal(["/hooks/default/gh"], _delivered);

        // The control plane dies; Envoy restarts and is configured from the agent's last-known-good.
        await server.DisposeAsync();
        await envoy.StopAsync();
        await envoy.StartAsync();

        var dump = await ConfigDumpAsync(envoy);
        Assert.Contains("\"flow-gh-orders\"", dump, StringComparison.Ordinal);
        Assert.Contains("\"zenmesh-egress\"", dump, StringComparison.Ordinal);
        Assert.Contains("\"zenmesh-ingress\"", dump, StringComparison.Ordinal);
        await TestTimeouts.Eventually(async () => await DeliverAsync(envoy) == HttpStatusCode.OK, "Envoy to route again after its restart");
        Assert.True(_delivered.Count(p => p == "/hooks/default/gh") >= 2, "the ingester saw no webhook after the restart");
    }
}
