using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using ZenMesh.Agent.Bootstrap;
using ZenMesh.Deploy.Tests.Infrastructure;
using ZenMesh.LocalStack;
using ZenMesh.XdsServer.Tests.RealEnvoy;

namespace ZenMesh.Deploy.Tests.RealEnvoy;

/// <summary>
/// The whole path through a real Envoy (pinned image) configured by the control plane through the
/// agent: webhook -> Envoy ingress -> ingester -> egress -> Envoy egress listener -> target. Then the
/// control plane is stopped during traffic and every accepted webhook is still delivered; then
/// Envoy restarts with the control plane still down, is configured from the agent's last-known-good,
/// and carries webhooks both ways again. Needs Docker; skipped with the reason where no engine
/// answers. Here the same scenarios run in direct mode (Local/LocalMeshTests) and against gRPC's
/// own xDS client (Agent.Tests: GrpcXdsThroughAgentTests).
/// </summary>
public sealed class MeshThroughEnvoyTests : IDisposable
{
    private const string HostAlias = "host.testcontainers.internal";
    private const int AdminPort = 9901;
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-envoy-mesh-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task<JsonElement> AttemptsAsync(LocalMesh mesh, string eventId)
    {
        using var egress = new HttpClient { BaseAddress = mesh.EgressApi };
        return JsonDocument.Parse(await egress.GetStringAsync($"/deliveries/{eventId}/{DemoMesh.Flow}")).RootElement.GetProperty("attempts");
    }

    [DockerFact]
    public async Task AWebhookCrossesEnvoyTwice_ThroughAControlPlaneOutage_AndAnEnvoyRestartOnTheAgentsLastKnownGood()
    {
        // Fixed host ports: the egress is told Envoy's egress listener once, and it must stay there across Envoy's restart.
        var (hookPort, echoPort, agentXdsPort, ingressPort, egressPort) = (TestPorts.ForAnotherProcess(), TestPorts.ForAnotherProcess(), TestPorts.ForAnotherProcess(), TestPorts.ForAnotherProcess(), TestPorts.ForAnotherProcess());
        await TestcontainersSettings.ExposeHostPortsAsync([(ushort)hookPort, (ushort)echoPort, (ushort)agentXdsPort]);
        var bootstrap = EdgeBootstrap.Render(await File.ReadAllTextAsync(RepoPaths.Combine("envoy-config", "edge-bootstrap.yaml")), DemoMesh.NodeId, agentXdsPort, AdminPort,
            agentXdsAddress: HostAlias, adminAddress: "0.0.0.0");
        await using var envoy = new ContainerBuilder(PinnedEnvoy.Image)
            .WithResourceMapping(Encoding.UTF8.GetBytes(bootstrap), "/etc/envoy/envoy.yaml")
            .WithCommand("-c", "/etc/envoy/envoy.yaml")
            .WithPortBinding(AdminPort, true)
            .WithPortBinding(ingressPort, 10000)
            .WithPortBinding(egressPort, 10001)
            // /server_info, not /ready: Envoy is ready only once configured, and the agent it is configured by starts after it.
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(AdminPort).ForPath("/server_info")))
            .Build();
        await envoy.StartAsync();

        await using var mesh = await LocalMesh.StartAsync(new LocalMeshOptions
        {
            DataDir = _dir, AdsPort = 0, ApiPort = 0, AgentStatusPort = 0, StreamPort = 0, EgressPort = 0,
            HookPort = hookPort, EchoPort = echoPort, AgentXdsPort = agentXdsPort, Envoy = "",
            EnvoyHostAlias = HostAlias, ExternalEnvoyEgress = new Uri($"http://{envoy.Hostname}:{egressPort}"),
        }, TextWriter.Null, CancellationToken.None).WithTimeout("the local stack", TimeSpan.FromSeconds(90));
        var secret = DemoTraffic.Secret(mesh);
        using var ingress = DemoTraffic.Client(new Uri($"http://{envoy.Hostname}:{ingressPort}"));

        // 1. The whole path: in through Envoy's ingress, out through its egress listener, the sender's trace carried through both.
        const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        string? first = null;
        await TestTimeouts.Eventually(async () => (first = await DemoTraffic.SendAsync(ingress, secret, "first", $"00-{TraceId}-00f067aa0ba902b7-01")) is not null, "Envoy's ingress to route a webhook to the ingester");
        await TestTimeouts.Eventually(() => Task.FromResult(DemoTraffic.Delivered(mesh, first!)), "the delivery through Envoy's egress listener");
        var attempt = (await AttemptsAsync(mesh, first!)).EnumerateArray().Single();
        Assert.NotEqual("direct", attempt.GetProperty("via").GetString());
        Assert.Equal(TraceId, DemoTraffic.TraceIdAtTarget(mesh, first!));

        // 2. The control plane stops during traffic: every webhook Envoy took in is delivered.
        var accepted = await DemoTraffic.AroundAsync(ingress, secret, "outage", mesh.StopControlPlaneAsync);
        await TestTimeouts.Eventually(() => Task.FromResult(accepted.All(id => DemoTraffic.Delivered(mesh, id))), "every webhook accepted around the outage to be delivered");

        // 3. Envoy restarts with the control plane still down: the agent configures it from its last-known-good.
        await envoy.StopAsync();
        await envoy.StartAsync();
        string? afterRestart = null;
        await TestTimeouts.Eventually(async () => (afterRestart = await DemoTraffic.SendAsync(ingress, secret, "after-envoy-restart")) is not null, "the restarted Envoy to route on the agent's last-known-good");
        await TestTimeouts.Eventually(() => Task.FromResult(DemoTraffic.Delivered(mesh, afterRestart!)), "the delivery through the restarted Envoy");
        using var admin = new HttpClient { BaseAddress = new Uri($"http://{envoy.Hostname}:{envoy.GetMappedPublicPort(AdminPort)}") };
        var dump = await admin.GetStringAsync("/config_dump");
        Assert.Contains($"\"flow-{DemoMesh.Flow}\"", dump, StringComparison.Ordinal);
        Assert.Contains($"{HostAlias}", dump, StringComparison.Ordinal);
    }
}
