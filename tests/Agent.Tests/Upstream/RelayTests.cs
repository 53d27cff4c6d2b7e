using Envoy.Service.Discovery.V3;
using ZenMesh.Agent.Tests.Infrastructure;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Agent.Tests.Upstream;

/// <summary>
/// The agent relays the edge's config from a real control plane to local clients, stores each
/// accepted state, and keeps serving it, at once after a restart, while the control plane is down.
/// </summary>
public sealed class RelayTests : IAsyncLifetime
{
    // The compiler emits no EDS for these clusters (their addresses are inline), so a full config is these.
    private static readonly string[] AllTypes = [TypeUrls.Cluster, TypeUrls.Listener, TypeUrls.Route, TypeUrls.EndpointPolicy, TypeUrls.FlowPolicy];
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-").FullName;
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await MeshAsync(maxInFlight: 8);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_stateDir, recursive: true);
    }

    private Task MeshAsync(int maxInFlight) => _server.PutAllOkAsync(
        ("edges/local", """{"mode":"vm"}"""),
        ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
        ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
        ("flows/gh-orders", $$"""{"endpoint":"gh","target":"orders","maxInFlight":{{maxInFlight}}}"""));

    /// <summary>Subscribes to everything of each type the edge has and returns the names of each, as Envoy and the ZenMesh services would hold them.</summary>
    private static async Task<Dictionary<string, string[]>> FullConfigAsync(FakeDeltaClient client)
    {
        var held = new Dictionary<string, string[]>();
        foreach (var type in AllTypes)
        {
            await client.SubscribeAsync(type, "*");
            var response = await client.ReceiveAsync(type);
            await client.AckAsync(response);
            held[type] = [.. FakeDeltaClient.Names(response)];
        }
        return held;
    }

    private static uint MaxRequests(DeltaDiscoveryResponse response) =>
        response.Resources.Single(r => r.Name == "flow-gh-orders").Resource_.Unpack<Envoy.Config.Cluster.V3.Cluster>().CircuitBreakers.Thresholds.Single().MaxRequests ?? 0;

    [Fact]
    public async Task ALocalClient_GetsTheEdgesConfig_RelayedFromTheControlPlane()
    {
        // On a clock that never moves: the agent knows the control plane's burst is whole from the protocol alone.
        await using var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir, new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow));
        await using var envoy = agent.Delta();

        var held = await FullConfigAsync(envoy);

        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], held[TypeUrls.Cluster]);
        Assert.Equal(["zenmesh-egress", "zenmesh-ingress"], held[TypeUrls.Listener]);
        // Local clients are served as soon as the config arrives; the status names it once it is saved as last-known-good.
        var version = _server.Cache.Current("default/local").Version;
        await TestTimeouts.Eventually(async () => (await agent.StatusAsync()).GetProperty("config").GetProperty("version").GetString() == version, "the status to name the version saved");
        var status = await agent.StatusAsync();
        Assert.True(status.GetProperty("controlPlane").GetProperty("reachable").GetBoolean());
        Assert.Equal("control plane", status.GetProperty("config").GetProperty("source").GetString());
    }

    [Fact]
    public async Task ANewVersion_IsPushedOnToTheLocalClient()
    {
        // The agent has no poll: the relay forwards what the control plane pushes, so waiting with
        // the usual timeout is enough. A wall-clock bound would be at the mercy of a loaded machine.
        await using var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir);
        await using var envoy = agent.Delta();
        await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
        var first = await envoy.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(8u, MaxRequests(first));
        await envoy.AckAsync(first);

        await _server.PutOkAsync("flows/gh-orders", """{"endpoint":"gh","target":"orders","maxInFlight":99}""");
        var changed = await envoy.ReceiveAsync(TypeUrls.Cluster);

        Assert.Equal(99u, MaxRequests(changed));
    }

    [Fact]
    public async Task RestartedWhileTheControlPlaneIsDown_ServesTheLastKnownGoodConfigAtOnce()
    {
        await using (var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir))
        {
            await using var envoy = agent.Delta();
            await FullConfigAsync(envoy);
        }
        var version = _server.Cache.Current("default/local").Version;
        await _server.DisposeAsync();
        _server = await RunningServer.StartAsync();

        await using var restarted = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir);
        await using var reconnected = restarted.Delta();
        var held = await FullConfigAsync(reconnected);

        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], held[TypeUrls.Cluster]);
        Assert.Equal(["zenmesh-egress", "zenmesh-ingress"], held[TypeUrls.Listener]);
        Assert.Equal(["zenmesh-egress-routes", "zenmesh-ingress-routes"], held[TypeUrls.Route]);
        Assert.Equal(["default/gh"], held[TypeUrls.EndpointPolicy]);
        Assert.Single(held[TypeUrls.FlowPolicy]);
        var status = await restarted.StatusAsync();
        Assert.False(status.GetProperty("controlPlane").GetProperty("reachable").GetBoolean());
        Assert.Equal(version, status.GetProperty("config").GetProperty("version").GetString());
        Assert.StartsWith("last-known-good gen-", status.GetProperty("config").GetProperty("source").GetString());
    }

    [Fact]
    public async Task ACorruptNewestGeneration_IsSkipped_ForTheOneBeforeIt()
    {
        await using (var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir))
        {
            await using var envoy = agent.Delta();
            await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
            await envoy.AckAsync(await envoy.ReceiveAsync(TypeUrls.Cluster));
            await _server.PutOkAsync("flows/gh-orders", """{"endpoint":"gh","target":"orders","maxInFlight":99}""");
            Assert.Equal(99u, MaxRequests(await envoy.ReceiveAsync(TypeUrls.Cluster)));
        }
        var generations = Directory.GetFiles(Path.Combine(_stateDir, "generations"), "gen-*.lkg").Order(StringComparer.Ordinal).ToArray();
        // One generation per push: the first state, then the change.
        Assert.Equal(2, generations.Length);
        var newest = await File.ReadAllBytesAsync(generations[^1]);
        newest[^10] ^= 0x5a;
        await File.WriteAllBytesAsync(generations[^1], newest);

        await using var restarted = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir);
        await using var reconnected = restarted.Delta();
        await reconnected.SubscribeAsync(TypeUrls.Cluster, "*");

        Assert.Equal(8u, MaxRequests(await reconnected.ReceiveAsync(TypeUrls.Cluster)));
        var status = await restarted.StatusAsync();
        Assert.Equal($"last-known-good {Path.GetFileName(generations[^2])}", status.GetProperty("config").GetProperty("source").GetString());
        Assert.Equal(ZenMesh.Xds.LastKnownGood.GenerationFormat.Read(await File.ReadAllBytesAsync(generations[^2])).Snapshot.Version, status.GetProperty("config").GetProperty("version").GetString());
    }

    [Fact]
    public async Task ALocalNack_IsReportedUpstream_PinsTheClientToWhatItAccepted_AndIsNeverLastKnownGood()
    {
        await using (var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir))
        {
            await using var envoy = agent.Delta();
            await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
            await envoy.AckAsync(await envoy.ReceiveAsync(TypeUrls.Cluster));
            await _server.PutOkAsync("flows/gh-orders", """{"endpoint":"gh","target":"orders","maxInFlight":99}""");
            var bad = await envoy.ReceiveAsync(TypeUrls.Cluster);
            Assert.Equal(99u, MaxRequests(bad));

            await envoy.NackAsync(bad, "cluster 'flow-gh-orders': circuit breaker too large for this edge");

            await TestTimeouts.Eventually(async () => (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges").EnumerateArray().Single().GetProperty("lastNack").ValueKind == System.Text.Json.JsonValueKind.Object, "the control plane to record the edge's NACK");
            var edge = (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges").EnumerateArray().Single();
            Assert.Equal("local client 'default/local' rejected it: cluster 'flow-gh-orders': circuit breaker too large for this edge", edge.GetProperty("lastNack").GetProperty("message").GetString());
            var local = (await agent.StatusAsync()).GetProperty("lastLocalNack");
            Assert.Equal(("default/local", "CDS"), (local.GetProperty("node").GetString(), local.GetProperty("type").GetString()));

            // A reconnecting client with the same node id gets what it last accepted, not what it rejected.
            await using var again = agent.Delta();
            await again.SubscribeAsync(TypeUrls.Cluster, "*");
            Assert.Equal(8u, MaxRequests(await again.ReceiveAsync(TypeUrls.Cluster)));
        }

        // Restarted with the control plane down, the agent does not serve the rejected version either.
        await using var restarted = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir);
        await using var client = restarted.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster, "*");
        Assert.Equal(8u, MaxRequests(await client.ReceiveAsync(TypeUrls.Cluster)));
        Assert.Single(Directory.GetFiles(Path.Combine(_stateDir, "generations"), "gen-*.rejected"));
    }

    [Fact]
    public async Task TheControlPlaneReturning_BringsTheAgentBackToCurrent()
    {
        var adsPort = _server.AdsUri.Port;
        await using var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir);
        await using var envoy = agent.Delta();
        await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
        await envoy.AckAsync(await envoy.ReceiveAsync(TypeUrls.Cluster));

        var dataDir = Directory.CreateTempSubdirectory("zenmesh-cp-").FullName;
        await _server.DisposeAsync();
        await TestTimeouts.Eventually(async () => !(await agent.StatusAsync()).GetProperty("controlPlane").GetProperty("reachable").GetBoolean(), "the agent to notice the control plane is gone");
        _server = await RunningServer.StartAsync("--ads-port", adsPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--data-dir", dataDir);
        await MeshAsync(maxInFlight: 42);

        // The mesh is rebuilt one PUT at a time, so intermediate states may arrive first.
        DeltaDiscoveryResponse current;
        do
        {
            current = await envoy.ReceiveAsync(TypeUrls.Cluster);
            await envoy.AckAsync(current);
        }
        while (!current.Resources.Any(r => r.Name == "flow-gh-orders") || MaxRequests(current) != 42u);
        await TestTimeouts.Eventually(async () => (await agent.StatusAsync()).GetProperty("controlPlane").GetProperty("reachable").GetBoolean(), "the agent to report the control plane reachable again");
    }
}
