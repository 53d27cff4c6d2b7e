using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Api;

public sealed class ApplyAndStatusTests : IAsyncLifetime
{
    private const string Bundle = """
        edges:
          local: {mode: vm}
        endpoints:
          github-main: {edge: local, provider: github, secretRef: github-main}
        targets:
          orders: {edge: local, allowLoopback: true, url: "http://127.0.0.1:9100/hooks"}
        flows:
          github-to-orders:
            endpoint: github-main
            target: orders
            retry: {retries: 2, perTryTimeout: 2s}
            maxInFlight: 64
        """;

    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> ApplyAsync(string bundle, string query = "")
    {
        using var response = await _server.Http.PostAsync($"/api/v1/apply{query}", new StringContent(bundle, Encoding.UTF8, "application/yaml")).WithTimeout("POST /api/v1/apply");
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    private static string[] Changes(JsonElement body) =>
        [.. body.GetProperty("changes").EnumerateArray().Select(c => $"{c.GetProperty("action").GetString()} {c.GetProperty("kind").GetString()}/{c.GetProperty("name").GetString()}")];

    [Fact]
    public async Task Apply_YamlBundle_CreatesEverything_AgainChangesNothing_PruneRemovesWhatItOmits()
    {
        var (status, first) = await ApplyAsync(Bundle);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["created edges/local", "created endpoints/github-main", "created targets/orders", "created flows/github-to-orders"], Changes(first));

        var (_, again) = await ApplyAsync(Bundle);
        Assert.Empty(Changes(again));

        var withoutFlow = Bundle[..Bundle.IndexOf("flows:", StringComparison.Ordinal)].Replace("provider: github,", "provider: github, maxBodyBytes: 2048,");
        var (_, kept) = await ApplyAsync(withoutFlow);
        Assert.Equal(["updated endpoints/github-main"], Changes(kept));
        var (_, pruned) = await ApplyAsync(withoutFlow, "?prune=true");
        Assert.Equal(["deleted flows/github-to-orders"], Changes(pruned));
    }

    [Fact]
    public async Task Apply_DryRun_SaysWhatWouldChange_AndChangesNothing()
    {
        var (_, dry) = await ApplyAsync(Bundle, "?dryRun=true");
        Assert.True(dry.GetProperty("dryRun").GetBoolean());
        Assert.Equal(4, Changes(dry).Length);
        Assert.Equal(0, (await _server.GetJsonAsync("/api/v1/edges")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Apply_MalformedResources_Is400ListingEveryOne_AndAppliesNothing()
    {
        var (status, problem) = await ApplyAsync("""
            edges:
              local: {mode: vm}
            targets:
              t1: {edge: local, url: "http://x:1/", connectTimeout: soon}
              t2: {edge: local, url: "http://x:2/", colour: blue}
            widgets: {}
            """);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        var messages = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()).ToList();
        Assert.Equal(3, messages.Count);
        Assert.Equal("targets/t1: field 'connectTimeout': 'soon' is not a duration; write it like \"500ms\", \"2s\", \"5m\" or \"1h30m\".", messages[0]);
        Assert.StartsWith("targets/t2: field 'colour': ", messages[1]);
        Assert.Equal("bundle: field 'widgets': is not a kind; use edges, endpoints, targets or flows.", messages[2]);
        Assert.Equal(0, (await _server.GetJsonAsync("/api/v1/edges")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Status_ShowsEachEdge_OfflineUntilItsEnvoyConnects_ThenSynced()
    {
        await ApplyAsync(Bundle);
        var before = (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges")[0];
        Assert.Equal(("local", false), (before.GetProperty("edge").GetString(), before.GetProperty("online").GetBoolean()));

        await using var envoy = _server.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Cluster);
        await envoy.AckAsync(await envoy.ReceiveAsync(TypeUrls.Cluster));
        await envoy.ExpectNoResponseAsync("to the ACK");

        await TestTimeouts.Eventually(async () => (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges")[0].GetProperty("synced").GetBoolean(), "the edge shows as synced once its ACKs are in");
        var after = (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges")[0];
        Assert.True(after.GetProperty("online").GetBoolean());
        Assert.Equal(0, after.GetProperty("staleSeconds").GetDouble());
        Assert.False(string.IsNullOrEmpty(after.GetProperty("configVersion").GetString()));
    }
}
