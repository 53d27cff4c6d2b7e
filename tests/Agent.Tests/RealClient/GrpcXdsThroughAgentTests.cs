using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ZenMesh.Agent.Tests.Infrastructure;

namespace ZenMesh.Agent.Tests.RealClient;

/// <summary>
/// gRPC's own xDS client (@grpc/grpc-js-xds) as the edge's local client, with real backends: it
/// routes by config the agent relays, keeps routing with the control plane gone, is configured
/// again by an agent restarted while the control plane is down, and follows a new version once
/// the control plane returns.
/// </summary>
public sealed class GrpcXdsThroughAgentTests(NodePackagesFixture packages) : IClassFixture<NodePackagesFixture>, IAsyncLifetime
{
    private readonly string _resources = Path.Combine(Path.GetTempPath(), $"zenmesh-agent-resources-{Guid.NewGuid():N}.yaml");
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-real-").FullName;
    private readonly string _example = File.ReadAllText(RepoPaths.Combine("envoy-config", "examples", "resources.yaml"));
    private NodeHarness _harness = null!;

    public async Task InitializeAsync()
    {
        Assert.NotNull(packages);
        _harness = await NodeHarness.StartAsync("a", "b");
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        File.Delete(_resources);
        Directory.Delete(_stateDir, recursive: true);
    }

    private string Example(int weightA, int weightB) => _example
        .Replace("port_value: 9101", $"port_value: {_harness.BackendPorts["a"]}")
        .Replace("port_value: 9102", $"port_value: {_harness.BackendPorts["b"]}")
        .Replace("{ name: echo-a, weight: 80 }", $"{{ name: echo-a, weight: {weightA} }}")
        .Replace("{ name: echo-b, weight: 20 }", $"{{ name: echo-b, weight: {weightB} }}");

    private static async Task<bool> SyncedAsync(RunningAgent agent, string node)
    {
        var status = await agent.StatusAsync();
        var client = status.GetProperty("clients").EnumerateArray().FirstOrDefault(c => c.GetProperty("node").GetString() == node);
        return client.ValueKind != System.Text.Json.JsonValueKind.Undefined
            && client.GetProperty("types").EnumerateArray().Select(t => (t.GetProperty("type").GetString(), t.GetProperty("status").GetString())).Order().SequenceEqual([("CDS", "SYNCED"), ("EDS", "SYNCED"), ("LDS", "SYNCED"), ("RDS", "SYNCED")]);
    }

    [Fact]
    public async Task TrafficFlowsOnRelayedConfig_ThroughAControlPlaneOutage_AndAnAgentRestart()
    {
        await File.WriteAllTextAsync(_resources, Example(80, 20));
        var server = await RunningServer.StartAsync("--resources", _resources);
        var adsPort = server.AdsUri.Port;
        // Port 0 the first time; the restart takes the port it was given, where the gRPC client reconnects.
        var agent = await RunningAgent.StartAsync(server.AdsUri.ToString(), _stateDir, null, "--xds-port", "0");
        var xdsPort = agent.XdsUri.Port.ToString(CultureInfo.InvariantCulture);
        try
        {
            await _harness.SendAsync(new { cmd = "connect", xds = $"127.0.0.1:{xdsPort}", target = "xds:///echo", node = "grpc-via-agent" });
            var relayed = await _harness.CallAsync(200);
            Assert.InRange(relayed.GetValueOrDefault("a"), 130, 190);
            Assert.Equal(200, relayed.GetValueOrDefault("a") + relayed.GetValueOrDefault("b"));

            // The control plane is killed: traffic keeps flowing.
            await server.DisposeAsync();
            var withoutControlPlane = await _harness.CallAsync(100);
            Assert.Equal(100, withoutControlPlane.GetValueOrDefault("a") + withoutControlPlane.GetValueOrDefault("b"));

            // The agent restarts while the control plane is down; the client reconnects and is fully configured from disk.
            await agent.DisposeAsync();
            var clock = Stopwatch.StartNew();
            agent = await RunningAgent.StartAsync(server.AdsUri.ToString(), _stateDir, null, "--xds-port", xdsPort);
            await TestTimeouts.Eventually(() => SyncedAsync(agent, "grpc-via-agent"), "the client to reconnect to the restarted agent and ACK the full config");
            var afterRestart = await _harness.CallAsync(100);
            Assert.Equal(100, afterRestart.GetValueOrDefault("a") + afterRestart.GetValueOrDefault("b"));
            Assert.StartsWith("last-known-good gen-", (await agent.StatusAsync()).GetProperty("config").GetProperty("source").GetString());
            Console.WriteLine($"agent restart (control plane down) to the client holding the full config again: {clock.ElapsedMilliseconds} ms");

            // The control plane returns with a new version: it reaches the client.
            await File.WriteAllTextAsync(_resources, Example(20, 80));
            server = await RunningServer.StartAsync("--resources", _resources, "--ads-port", adsPort.ToString(CultureInfo.InvariantCulture));
            await TestTimeouts.Eventually(async () => (await _harness.CallAsync(100)).GetValueOrDefault("b") > 60, "calls to follow the returned control plane's 20/80 split");
            var flipped = await _harness.CallAsync(200);
            Assert.InRange(flipped.GetValueOrDefault("b"), 130, 190);
        }
        finally
        {
            await agent.DisposeAsync();
            await server.DisposeAsync();
        }
    }
}
