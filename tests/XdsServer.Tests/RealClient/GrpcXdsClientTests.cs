using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.RealClient;

/// <summary>
/// gRPC's own xDS client (@grpc/grpc-js-xds, written by others to Envoy's protocol) against the
/// real server serving the example resources file: if it accepts our config and routes by it, the
/// server speaks xDS. grpc-js-xds speaks state-of-the-world ADS.
/// </summary>
public sealed class GrpcXdsClientTests(NodePackagesFixture packages) : IClassFixture<NodePackagesFixture>, IAsyncLifetime
{
    private readonly string _resources = Path.Combine(Path.GetTempPath(), $"zenmesh-resources-{Guid.NewGuid():N}.yaml");
    private readonly string _example = File.ReadAllText(RepoPaths.Combine("envoy-config", "examples", "resources.yaml"));
    private NodeHarness _harness = null!;
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        Assert.NotNull(packages);
        _harness = await NodeHarness.StartAsync("a", "b", "c");
        await File.WriteAllTextAsync(_resources, Example(weightA: 80, weightB: 20, backendOfB: "b"));
        _server = await RunningServer.StartAsync("--resources", _resources);
    }

    public async Task DisposeAsync()
    {
        await _harness.DisposeAsync();
        await _server.DisposeAsync();
        File.Delete(_resources);
    }

    [Fact]
    public async Task XdsTarget_ResolvesThroughLdsRdsCdsEds_FollowsTheWeightedSplit_AndLiveEditsWithoutReconnecting()
    {
        await _harness.SendAsync(new { cmd = "connect", xds = _server.AdsUri.Authority, target = "xds:///echo", node = "grpc-harness" });

        // Resolved through all four types, and routed 80/20 (5 standard deviations of slack on 200 calls).
        var counts = await _harness.CallAsync(200);
        Assert.InRange(counts.GetValueOrDefault("a"), 130, 190);
        Assert.Equal(200, counts.GetValueOrDefault("a") + counts.GetValueOrDefault("b"));
        var before = (await _server.ClientsAsync("grpc-harness")).Single();
        var types = before.GetProperty("types").EnumerateArray().ToDictionary(t => t.GetProperty("type").GetString()!, t => t.GetProperty("status").GetString());
        Assert.Equal(new Dictionary<string, string?> { ["CDS"] = "SYNCED", ["EDS"] = "SYNCED", ["LDS"] = "SYNCED", ["RDS"] = "SYNCED" }, types);
        var streamId = before.GetProperty("streamId").GetInt64();

        // A live edit of the weights is followed on the same channel.
        await File.WriteAllTextAsync(_resources, Example(weightA: 20, weightB: 80, backendOfB: "b"));
        await TestTimeouts.Eventually(async () =>
        {
            var c = await _harness.CallAsync(100);
            return c.GetValueOrDefault("b") > 60;
        }, "calls follow the new 20/80 split");
        var flipped = await _harness.CallAsync(200);
        Assert.InRange(flipped.GetValueOrDefault("b"), 130, 190);

        // A live edit of endpoints: cluster echo-b now points at backend c.
        await File.WriteAllTextAsync(_resources, Example(weightA: 20, weightB: 80, backendOfB: "c"));
        await _harness.SendAsync(new { cmd = "until", backend = "c", timeoutMs = 15000 });
        var moved = await _harness.CallAsync(100);
        Assert.Equal(0, moved.GetValueOrDefault("b"));
        Assert.Equal(100, moved.GetValueOrDefault("a") + moved.GetValueOrDefault("c"));

        // All of it on the stream the client opened first.
        var after = (await _server.ClientsAsync("grpc-harness")).Single();
        Assert.Equal(streamId, after.GetProperty("streamId").GetInt64());
    }

    [Fact]
    public async Task InvalidEdit_IsRefused_AndTheClientKeepsRoutingOnTheLastGoodConfig()
    {
        await _harness.SendAsync(new { cmd = "connect", xds = _server.AdsUri.Authority, target = "xds:///echo", node = "grpc-harness-2" });
        await _harness.CallAsync(20);

        await File.WriteAllTextAsync(_resources, Example(weightA: 20, weightB: 80, backendOfB: "c").Replace("type: EDS", "type: NOT_A_TYPE"));
        await TestTimeouts.Eventually(async () => (await _server.GetJsonAsync("/admin/xds/source")).GetProperty("lastErrors").GetArrayLength() > 0, "the server refuses the broken file");

        var source = await _server.GetJsonAsync("/admin/xds/source");
        Assert.Equal(
            "resources[3] (line 53) (Cluster 'echo-a'): field 'type': Invalid enum value: NOT_A_TYPE for enum type: envoy.config.cluster.v3.Cluster.DiscoveryType. Fix or remove that field.",
            source.GetProperty("lastErrors")[0].GetString());
        var counts = await _harness.CallAsync(100);
        Assert.InRange(counts.GetValueOrDefault("a"), 60, 98);
    }

    private string Example(int weightA, int weightB, string backendOfB) => _example
        .Replace("port_value: 9101", $"port_value: {_harness.BackendPorts["a"]}")
        .Replace("port_value: 9102", $"port_value: {_harness.BackendPorts[backendOfB]}")
        .Replace("{ name: echo-a, weight: 80 }", $"{{ name: echo-a, weight: {weightA} }}")
        .Replace("{ name: echo-b, weight: 20 }", $"{{ name: echo-b, weight: {weightB} }}");
}
