using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Egress.Hosting;

namespace ZenMesh.Egress.Tests.Api;

/// <summary>
/// The egress's route table, and the attack it closes: its delivery log and replay API answered
/// anyone who reached the port, so one unauthenticated POST /replays re-sent every delivery.
/// </summary>
public sealed class EgressAccessTests : IAsyncLifetime
{
    public static readonly (string Route, string Listener, ServiceRouteAccess Access)[] Table =
    [
        ("GET /deliveries", "api", ServiceRouteAccess.Token),
        ("GET /deliveries/{eventId}/{flow}", "api", ServiceRouteAccess.Token),
        ("POST /flows/{tenant}/{flow}/resume", "api", ServiceRouteAccess.Token),
        ("POST /replays", "api", ServiceRouteAccess.Token),
        ("GET /replays", "api", ServiceRouteAccess.Token),
        ("GET /replays/{id}", "api", ServiceRouteAccess.Token),
        ("DELETE /replays/{id}", "api", ServiceRouteAccess.Token),
        ("GET /status", "api", ServiceRouteAccess.LocalOrToken),
        ("GET /metrics", "api", ServiceRouteAccess.LocalOrToken),
        ("GET /healthz", "api", ServiceRouteAccess.Anyone),
    ];

    private static readonly Dictionary<string, string> Values = new() { ["eventId"] = "evt", ["flow"] = "orders", ["tenant"] = "default", ["id"] = "r1" };

    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-egress-access-").FullName;
    private WebApplication _app = null!;
    private Uri _api = null!;

    public async Task InitializeAsync() => (_app, _api) = await StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private async Task<(WebApplication App, Uri Api)> StartAsync(params string[] extra)
    {
        var app = EgressApp.Build(["--direct", "--port", "0", "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9", "--ingester", "http://127.0.0.1:9", .. extra], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync().WithTimeout("the egress to start");
        var bound = app.Services.GetRequiredService<EgressEndpoints>().Api.Uri;
        return (app, bound.Host == "0.0.0.0" ? new UriBuilder(bound) { Host = "127.0.0.1" }.Uri : bound);
    }

    private string Token => File.ReadAllText(Path.Combine(_dataDir, "api-token")).Trim();

    private HttpClient Client(string? token)
    {
        var client = new HttpClient { BaseAddress = _api, Timeout = TestTimeouts.Default };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        }
        return client;
    }

    [Fact]
    public async Task AReplay_WithoutTheToken_IsRefused_AndReplaysNothing()
    {
        using var anonymous = Client(null);
        using var wrong = Client("zm_svc_" + new string('0', 64));

        using var dryRun = await anonymous.PostAsync("/replays?flow=demo-to-echo&dryRun=true", null);
        using var replay = await anonymous.PostAsync("/replays?all=true", null);
        using var guessed = await wrong.PostAsync("/replays?all=true", null);
        using var log = await anonymous.GetAsync("/deliveries");
        using var resume = await anonymous.PostAsync("/flows/default/demo-to-echo/resume", null);

        foreach (var response in new[] { dryRun, replay, guessed, log, resume })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        Assert.StartsWith("This needs this service's API token, as 'Authorization: Bearer <token>'. It is ", (await dryRun.Content.ReadAsStringAsync()).Split("\"detail\":\"")[1], StringComparison.Ordinal);
        using var asOwner = Client(Token);
        Assert.Equal("{\"replays\":[]}", await asOwner.GetStringAsync("/replays"));
    }

    [Fact]
    public async Task WithAHealthPort_ProbesReachHealthzAlone_AndTheApiStaysOnLoopback()
    {
        await _app.DisposeAsync();
        (_app, _api) = await StartAsync("--health-port", "0");
        var endpoints = _app.Services.GetRequiredService<EgressEndpoints>();
        using var health = new HttpClient { BaseAddress = new UriBuilder(endpoints.Health.Uri) { Host = "127.0.0.1" }.Uri };

        Assert.Equal(IPAddress.Any, endpoints.Health.EndPoint.Address);
        Assert.True(IPAddress.IsLoopback(endpoints.Api.EndPoint.Address));
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await health.GetAsync("/deliveries")).StatusCode);
    }

    [Fact]
    public void TheTokenFile_IsTheOwnersAlone()
    {
        var file = Path.Combine(_dataDir, "api-token");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.StartsWith("zm_svc_", Token, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryServedRoute_HasARow_OnItsListener_WithARule() => ServiceAccessChecks.HoldsTheTable(RouteTable.Of(_app.Services), Table);

    [Fact]
    public async Task EveryRoute_AnswersEachCaller_AsTheTableSays_OnLoopback_AndBeyond()
    {
        var failures = new List<string>();
        await CallEveryRouteAsync(beyondLoopback: false, failures);
        await _app.StopAsync();
        await _app.DisposeAsync();
        (_app, _api) = await StartAsync("--bind", "0.0.0.0");
        await CallEveryRouteAsync(beyondLoopback: true, failures);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private async Task CallEveryRouteAsync(bool beyondLoopback, List<string> failures) =>
        failures.AddRange(await ServiceAccessChecks.CallEveryRouteAsync(RouteTable.Of(_app.Services), Table, _api, Token, beyondLoopback, Values));
}
