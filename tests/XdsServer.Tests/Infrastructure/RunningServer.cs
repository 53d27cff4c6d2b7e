using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>The real server, in process, on free loopback ports.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];

    private RunningServer(WebApplication app)
    {
        _app = app;
        var bound = app.Services.GetRequiredService<BoundEndpoints>();
        AdsUri = Reachable(bound.Ads.Uri);
        HttpUri = Reachable(bound.Http.Uri);
        Http = new HttpClient { BaseAddress = HttpUri, Timeout = TestTimeouts.Default };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
    }

    /// <summary>A server bound to every interface (0.0.0.0) is reached through loopback.</summary>
    private static Uri Reachable(Uri bound) => bound.Host == "0.0.0.0" ? new UriBuilder(bound) { Host = "127.0.0.1" }.Uri : bound;

    /// <summary>The operator token every test server starts with (Xds:AdminToken); Http sends it, acting in tenant "default".</summary>
    public const string AdminToken = "zm_test_operator_token_7f3a9c2e5b1d8460";

    public IServiceProvider Services => _app.Services;

    public Uri AdsUri { get; }
    public Uri HttpUri { get; }
    public HttpClient Http { get; }
    public ISnapshotCache Cache => _app.Services.GetRequiredService<ISnapshotCache>();

    public static Task<RunningServer> StartAsync(params string[] extraArgs) => StartAsync(null, extraArgs);

    /// <summary>With <paramref name="time"/>, the server runs on that clock (a FakeTimeProvider in tests).</summary>
    public static Task<RunningServer> StartAsync(TimeProvider? time, params string[] extraArgs) => StartAsync(time, null, extraArgs);

    /// <summary>With <paramref name="configure"/>, the test adds to the host (a log provider, say) after the defaults.</summary>
    public static async Task<RunningServer> StartAsync(TimeProvider? time, Action<WebApplicationBuilder>? configure, params string[] extraArgs)
    {
        var args = new List<string> { "--ads-port", "0", "--http-port", "0" };
        if (!extraArgs.Contains("--no-admin-token"))
        {
            args.AddRange(["--Xds:AdminToken", AdminToken]);
        }
        extraArgs = [.. extraArgs.Where(a => a != "--no-admin-token")];
        if (!extraArgs.Contains("--data-dir"))
        {
            args.AddRange(["--data-dir", Directory.CreateTempSubdirectory("zenmesh-data-").FullName]);
        }
        args.AddRange(extraArgs);
        var app = XdsServerApp.Build([.. args], b =>
        {
            b.Logging.SetMinimumLevel(LogLevel.Warning);
            if (time is not null)
            {
                b.Services.AddSingleton(time);
            }
            configure?.Invoke(b);
        });
        await app.StartAsync().WithTimeout("the server to start");
        return new RunningServer(app);
    }

    public GrpcChannel Channel(SocketsHttpHandler? handler = null)
    {
        var channel = GrpcChannel.ForAddress(AdsUri, new GrpcChannelOptions
        {
            HttpHandler = handler ?? new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        });
        _channels.Add(channel);
        return channel;
    }

    public FakeSotwClient Sotw(string nodeId = "node-1") => new(Channel(), nodeId);

    public FakeDeltaClient Delta(string nodeId = "node-1") => new(Channel(), nodeId);

    public void Publish(Snapshot snapshot)
    {
        var update = Cache.PublishDefault(snapshot);
        Assert.True(update.Accepted, string.Join("; ", update.Errors));
    }

    /// <summary>PUT a Flow API resource (e.g. "edges/local"), failing the test with the server's answer unless it succeeds.</summary>
    public async Task PutOkAsync(string path, string json)
    {
        using var response = await Http.PutAsync($"/api/v1/{path}", new StringContent(json, System.Text.Encoding.UTF8, "application/json")).WithTimeout($"PUT {path}");
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>PUT each (path, body) in order.</summary>
    public async Task PutAllOkAsync(params (string Path, string Json)[] resources)
    {
        foreach (var (path, json) in resources)
        {
            await PutOkAsync(path, json);
        }
    }

    /// <summary>A client that sends <paramref name="token"/> (none when null) and, when given, names <paramref name="tenant"/> in the ZenMesh-Tenant header.</summary>
    public HttpClient Client(string? token, string? tenant = null)
    {
        var client = new HttpClient { BaseAddress = HttpUri, Timeout = TestTimeouts.Default };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        if (tenant is not null)
        {
            client.DefaultRequestHeaders.Add("ZenMesh-Tenant", tenant);
        }
        return client;
    }

    /// <summary>Creates a token of <paramref name="role"/> in <paramref name="tenant"/> (default) as the operator and returns its value.</summary>
    public async Task<string> CreateTokenAsync(string role, string name = "test", string tenant = "default")
    {
        using var operatorClient = Client(AdminToken, tenant);
        using var created = await operatorClient.PostAsync("/api/v1/tokens", new StringContent($$"""{"name":"{{name}}","role":"{{role}}"}""", System.Text.Encoding.UTF8, "application/json")).WithTimeout("a new token");
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == System.Net.HttpStatusCode.Created, $"creating a {role} token: {(int)created.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>Creates tenant <paramref name="name"/> as the operator and returns its first admin token (named "first admin").</summary>
    public async Task<string> CreateTenantAsync(string name)
    {
        using var created = await Http.PostAsync("/api/v1/tenants", new StringContent($$"""{"name":"{{name}}"}""", System.Text.Encoding.UTF8, "application/json")).WithTimeout($"tenant {name}");
        var text = await created.Content.ReadAsStringAsync();
        Assert.True(created.StatusCode == System.Net.HttpStatusCode.Created, $"creating tenant {name}: {(int)created.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("token").GetString()!;
    }

    public async Task<JsonElement> GetJsonAsync(string path) =>
        await Http.GetFromJsonAsync<JsonElement>(path).WithTimeout($"GET {path}");

    /// <summary>The admin view of the clients of one node.</summary>
    public async Task<JsonElement[]> ClientsAsync(string nodeId)
    {
        var all = await GetJsonAsync("/admin/xds/clients");
        return [.. all.EnumerateArray().Where(c => c.GetProperty("id").GetString() == nodeId)];
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
        Http.Dispose();
        await _app.StopAsync().WithTimeout("the server to stop");
        await _app.DisposeAsync();
    }
}
