using Google.Protobuf;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Envoy.Service.Status.V3;
using Grpc.Core;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Auth;

/// <summary>
/// Two tenants declare edges, endpoints, targets and flows of the same names. The other tenant's
/// admin calls every route of the route table, with this tenant's names and token ids, and learns
/// and changes nothing of this tenant's; over mutual TLS, neither tenant's edge can obtain the
/// other's config by naming it, through any xDS variant or CSDS.
/// </summary>
public sealed class TenantIsolationTests : IAsyncLifetime
{
    /// <summary>The same names in both tenants; only the values (and so what may leak) differ.</summary>
    private static string Bundle(string tenant) =>
        "{\"edges\": {\"local\": {\"mode\": \"vm\"}}, "
        + $"\"endpoints\": {{\"gh\": {{\"edge\": \"local\", \"provider\": \"github\", \"secretRef\": \"{tenant}-secret-name\"}}}}, "
        + $"\"targets\": {{\"orders\": {{\"edge\": \"local\", \"url\": \"http://10.0.0.{(tenant == "default" ? 1 : 2)}:9100/{tenant}-only-path\"}}}}, "
        + "\"flows\": {\"gh-orders\": {\"endpoint\": \"gh\", \"target\": \"orders\"}}}";

    private static readonly string[] DefaultsSecrets = ["default-secret-name", "default-only-path", "10.0.0.1", "default/local"];

    private RunningServer _server = null!;
    private HttpClient _acme = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync("--tls");
        _acme = _server.Client(await _server.CreateTenantAsync("acme"));
        await ApplyAsync(_server.Http, Bundle("default"));
        await ApplyAsync(_acme, Bundle("acme"));
    }

    public async Task DisposeAsync()
    {
        _acme.Dispose();
        await _server.DisposeAsync();
    }

    private static async Task ApplyAsync(HttpClient client, string bundle)
    {
        using var response = await client.PostAsync("/api/v1/apply", new StringContent(bundle, Encoding.UTF8, "application/json")).WithTimeout("apply");
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Everything tenant default holds, as its operator reads it.</summary>
    private async Task<string> DefaultsStateAsync()
    {
        var parts = new List<string>();
        foreach (var path in new[] { "/api/v1/edges", "/api/v1/endpoints", "/api/v1/targets", "/api/v1/flows", "/api/v1/tokens", "/api/v1/edges/local/credentials", "/api/v1/evidence" })
        {
            parts.Add(path + " " + (await _server.GetJsonAsync(path)).GetRawText());
        }
        return string.Join('\n', parts);
    }

    [Fact]
    public async Task EveryRoute_AsAnotherTenantsAdmin_ShowsAndChangesNothingOfThisTenants()
    {
        await TestEdge.BundleAsync(_server, "local");
        await _server.CreateTokenAsync("admin", "default's admin");
        var before = await DefaultsStateAsync();
        var tokenIds = (await _server.GetJsonAsync("/api/v1/tokens")).GetProperty("items").EnumerateArray().Select(t => t.GetProperty("id").GetString()!).ToList();
        Assert.NotEmpty(tokenIds);
        var calls = 0;
        var leaks = new List<string>();

        foreach (var route in RouteTable.Of(_server.Services).Where(r => !r.IsGrpc))
        {
            var paths = new HashSet<string>();
            foreach (var kind in new[] { "edges", "endpoints", "targets", "flows" })
            {
                foreach (var name in new[] { "local", "gh", "orders", "gh-orders" })
                {
                    foreach (var id in tokenIds)
                    {
                        var path = RouteTable.Concrete(route.Pattern, new Dictionary<string, string> { ["kind"] = kind, ["name"] = name, ["Name"] = name, ["id"] = id });
                        paths.Add(path);
                        if (route.Method is "POST" or "PUT")
                        {
                            // A dry run answers with compiled config: it must be only the caller's.
                            paths.Add(path + "?dryRun=true");
                        }
                    }
                }
            }
            foreach (var path in paths)
            {
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
                if (route.Method is "POST" or "PUT")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }
                using var response = await _acme.SendAsync(request).WithTimeout($"{route.Method} {path}");
                var body = await response.Content.ReadAsStringAsync();
                calls++;
                leaks.AddRange(DefaultsSecrets.Where(s => body.Contains(s, StringComparison.Ordinal)).Select(s => $"{route.Method} {path} ({(int)response.StatusCode}) shows '{s}'"));
            }
        }

        Assert.True(calls > 100, $"only {calls} calls were made");
        Assert.True(leaks.Count == 0, string.Join(Environment.NewLine, leaks));
        Assert.Equal(before, await DefaultsStateAsync());
    }

    [Fact]
    public async Task OverMutualTls_AnEdge_CannotObtainTheOtherTenantsSameNamedConfig()
    {
        using var mine = await TestEdge.EnrollAsync(_server, "local");
        using var theirs = await TestEdge.EnrollAsync(_server, "local", _acme);
        await using var theirEnvoy = theirs.Sotw("acme/local");
        await theirEnvoy.RequestAsync(TypeUrls.Cluster, "flow-gh-orders");
        Assert.Contains("10.0.0.2", (await theirEnvoy.ReceiveAsync(TypeUrls.Cluster)).Resources.Single().ToByteString().ToStringUtf8(), StringComparison.Ordinal);

        // By name, as its own node: its own cluster of that name, never the other's.
        await using var own = mine.Sotw("default/local");
        await own.RequestAsync(TypeUrls.Cluster, "flow-gh-orders");
        var cluster = (await own.ReceiveAsync(TypeUrls.Cluster)).Resources.Single().ToByteString().ToStringUtf8();
        Assert.Contains("10.0.0.1", cluster, StringComparison.Ordinal);
        Assert.DoesNotContain("10.0.0.2", cluster, StringComparison.Ordinal);

        // Claiming the other tenant's node id: SotW, delta and fetch are each refused.
        await using var sotw = mine.Sotw("acme/local");
        await sotw.RequestAsync(TypeUrls.Cluster, "flow-gh-orders");
        Assert.Equal(StatusCode.PermissionDenied, (await sotw.FailureAsync()).StatusCode);
        await using var delta = mine.Delta("acme/local");
        await delta.SubscribeAsync(TypeUrls.Cluster, "flow-gh-orders");
        Assert.Equal(StatusCode.PermissionDenied, (await delta.FailureAsync()).StatusCode);
        var fetch = new Envoy.Service.Cluster.V3.ClusterDiscoveryService.ClusterDiscoveryServiceClient(mine.Channel());
        var refused = await Assert.ThrowsAsync<RpcException>(() => fetch.FetchClustersAsync(new() { Node = new() { Id = "acme/local" }, ResourceNames = { "flow-gh-orders" } }).ResponseAsync.WithTimeout("fetch"));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);

        // CSDS, asked for the other tenant's node by id, shows nothing of it.
        var csds = new ClientStatusDiscoveryService.ClientStatusDiscoveryServiceClient(mine.Channel());
        var status = await csds.FetchClientStatusAsync(new ClientStatusRequest { NodeMatchers = { new Envoy.Type.Matcher.V3.NodeMatcher { NodeId = new() { Exact = "acme/local" } } } }).ResponseAsync.WithTimeout("CSDS");
        Assert.Empty(status.Config);
        var all = await csds.FetchClientStatusAsync(new ClientStatusRequest()).ResponseAsync.WithTimeout("CSDS");
        Assert.All(all.Config, c => Assert.Equal("default/local", c.Node.Id));
        Assert.DoesNotContain("10.0.0.2", all.ToByteString().ToStringUtf8(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheOtherTenantsAdmin_CannotEnrollOrRotateThisTenantsEdge()
    {
        using var mine = await TestEdge.EnrollAsync(_server, "local");

        using var rotate = await _acme.PostAsync("/api/v1/edges/local/rotate", null);
        Assert.Equal(HttpStatusCode.Created, rotate.StatusCode);
        var bundle = await rotate.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("acme/local", bundle.GetProperty("edge").GetString());

        // This tenant's credential survived the other's rotation of its own same-named edge.
        await using var envoy = mine.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Cluster);
        Assert.NotEmpty((await envoy.ReceiveAsync(TypeUrls.Cluster)).Resources);
    }
}
