using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.RealClient;

/// <summary>
/// The compiler's output, fetched over ADS by tests/xds-harness/decode.mjs and decoded with the
/// upstream Envoy descriptors that ship in @grpc/grpc-js-xds (protobufjs, not our generated C#),
/// every nested Any included: what we emit is Envoy's API, not just something our own code reads back.
/// </summary>
public sealed class UpstreamDecodeTests(NodePackagesFixture packages) : IClassFixture<NodePackagesFixture>, IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        Assert.NotNull(packages);
        _server = await RunningServer.StartAsync();
        using var response = await _server.Http.PostAsync("/api/v1/apply", new StringContent("""
            edges:
              local: {}
            endpoints:
              gh: {edge: local, provider: github, secretRef: gh, rateLimit: {requestsPerSecond: 5}}
            targets:
              orders: {edge: local, url: "https://orders.internal/hooks", tls: {caSecretRef: orders-ca}}
            flows:
              gh-orders: {endpoint: gh, target: orders, maxInFlight: 64, rateLimit: {requestsPerSecond: 3}}
            """, Encoding.UTF8, "application/yaml"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CompiledEdgeConfig_DecodesWithTheUpstreamEnvoyDescriptors()
    {
        var start = new ProcessStartInfo("node", [RepoPaths.Combine("tests", "xds-harness", "decode.mjs"), "--xds", _server.AdsUri.Authority, "--node", "default/local"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoPaths.Combine("tests", "xds-harness"),
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WithTimeout("decode.mjs", TimeSpan.FromSeconds(30));
        Assert.True(process.ExitCode == 0, $"decode.mjs failed: {await stderr}");

        var summary = JsonDocument.Parse(await stdout).RootElement;
        // 6 resources, plus nested: 2 HCMs with 2 filters and an access log each, 2 per-route rate limits, 1 TLS context.
        Assert.Equal(15, summary.GetProperty("decodedAnys").GetInt32());
        var listeners = summary.GetProperty("listeners").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!);
        Assert.Equal(10000, listeners["zenmesh-ingress"].GetProperty("port").GetInt32());
        Assert.Equal(10001, listeners["zenmesh-egress"].GetProperty("port").GetInt32());
        Assert.Equal(["envoy.filters.http.local_ratelimit", "envoy.filters.http.router"], listeners["zenmesh-ingress"].GetProperty("filters").EnumerateArray().Select(f => f.GetString()));
        var routes = summary.GetProperty("routes").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("routes").EnumerateArray().Select(x => x.GetString()).ToList());
        Assert.Equal(["flow-gh-orders", "unknown-flow"], routes["zenmesh-egress-routes"]);
        var clusters = summary.GetProperty("clusters").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal(64, clusters["flow-gh-orders"].GetProperty("maxRequests").GetInt32());
        // A target by name: Envoy's own API reads back a cluster that connects to the egress's checked address.
        Assert.Equal(("ORIGINAL_DST", "x-zenmesh-target-address", 443), (clusters["flow-gh-orders"].GetProperty("type").GetString(), clusters["flow-gh-orders"].GetProperty("addressHeader").GetString(), clusters["flow-gh-orders"].GetProperty("portOverride").GetInt32()));
    }
}
