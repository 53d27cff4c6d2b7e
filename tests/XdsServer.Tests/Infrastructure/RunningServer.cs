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
        AdsUri = bound.Ads.Uri;
        HttpUri = bound.Http.Uri;
        Http = new HttpClient { BaseAddress = HttpUri, Timeout = TestTimeouts.Default };
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AdminToken);
    }

    /// <summary>The admin token of tenant "default" every test server starts with; Http sends it.</summary>
    public const string AdminToken = "zm_test_admin_token";

    public IServiceProvider Services => _app.Services;

    public Uri AdsUri { get; }
    public Uri HttpUri { get; }
    public HttpClient Http { get; }
    public ISnapshotCache Cache => _app.Services.GetRequiredService<ISnapshotCache>();

    public static Task<RunningServer> StartAsync(params string[] extraArgs) => StartAsync(null, extraArgs);

    /// <summary>With <paramref name="time"/>, the server runs on that clock (a FakeTimeProvider in tests).</summary>
    public static async Task<RunningServer> StartAsync(TimeProvider? time, params string[] extraArgs)
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
