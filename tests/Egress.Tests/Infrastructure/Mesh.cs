using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Intake;
using ZenMesh.Egress.Storage;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;

namespace ZenMesh.Egress.Tests.Infrastructure;

/// <summary>
/// A real ingester and a real egress in process: webhooks go into the ingester's endpoint
/// "default/orders" (unsigned), become jobs for the flows given, and the egress takes them over
/// the job stream and delivers them (--direct, no Envoy here). Config is set directly, as xDS would.
/// </summary>
/// <summary>Arguments both services get (--log-format, --otlp, OTEL_* settings) and where each writes its JSON logs.</summary>
internal sealed record MeshTelemetry(string[] Args, TextWriter IngesterLog, TextWriter EgressLog);

internal sealed class Mesh : IAsyncDisposable
{
    private readonly List<FlowPolicy> _flows;
    private WebApplication _ingester = null!;
    private Uri _stream = null!;
    private WebApplication? _egress;
    private HttpClient _hooks = null!;

    private readonly Uri? _envoy;
    private readonly string? _postgres;
    private MeshTelemetry? _telemetry;
    private TimeProvider? _egressTime;
    private readonly List<(WebApplication App, string Dir)> _others = [];

    private readonly bool _ownsDataDir;

    private Mesh(IReadOnlyList<FlowPolicy> flows, Uri? envoy, string? postgres, string? egressDataDir = null)
    {
        _flows = [.. flows];
        _envoy = envoy;
        _postgres = postgres;
        _ownsDataDir = egressDataDir is null;
        DataDir = egressDataDir ?? Directory.CreateTempSubdirectory("zenmesh-egress-").FullName;
    }

    /// <summary>The egress's data directory: the mesh's own, or one the test gave it (and removes itself).</summary>
    public string DataDir { get; private set; }

    public string SecretsDir { get; } = Directory.CreateTempSubdirectory("zenmesh-egress-secrets-").FullName;

    private string IngesterDir { get; } = Directory.CreateTempSubdirectory("zenmesh-egress-ingester-").FullName;

    public HttpClient Api { get; private set; } = null!;

    public WebApplication Egress => _egress!;

    public static FlowPolicy Flow(string name, Uri target, params TimeSpan[] delays)
    {
        var flow = new FlowPolicy
        {
            Name = $"default/{name}", Tenant = "default", Flow = name, Endpoint = "orders", Target = name + "-target", TargetUrl = target.ToString(),
            Timeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(10)), MaxInFlight = 10, Enabled = true, EventTypes = { "*" },
            RedeliveryHorizon = Duration.FromTimeSpan(TimeSpan.FromMinutes(5)),
            // Test targets run on this host.
            TargetAllowLoopback = true,
        };
        flow.RedeliveryDelays.AddRange((delays.Length > 0 ? delays : [TimeSpan.FromMilliseconds(200)]).Select(Duration.FromTimeSpan));
        return flow;
    }

    public static Task<Mesh> StartAsync(params FlowPolicy[] flows) => StartAsync((Uri?)null, flows);

    /// <summary>A flow whose deliveries are tried every 100 ms and die <paramref name="horizonMs"/> after their first attempt.</summary>
    public static FlowPolicy ShortLived(string name, Uri target, int horizonMs = 300)
    {
        var flow = Flow(name, target, TimeSpan.FromMilliseconds(100));
        flow.RedeliveryRepeatEvery = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(100));
        flow.RedeliveryHorizon = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(horizonMs));
        return flow;
    }

    /// <summary>With <paramref name="envoy"/>, the egress delivers through that Envoy egress listener instead of --direct.</summary>
    public static Task<Mesh> StartAsync(Uri? envoy, params FlowPolicy[] flows) => StartAsync(envoy, null, flows);

    /// <summary>Ingester and egress with the telemetry settings given and their JSON logs in writers of their own.</summary>
    public static Task<Mesh> StartAsync(MeshTelemetry telemetry, params FlowPolicy[] flows) => StartAsync(null, null, telemetry, flows, null);

    public static Task<Mesh> StartAsync(Uri? envoy, string? postgres, params FlowPolicy[] flows) => StartAsync(envoy, postgres, null, flows, null);

    /// <summary>The egress runs on <paramref name="egressTime"/> (a FakeTimeProvider the test moves); the ingester on the machine's clock.</summary>
    public static async Task<Mesh> StartOnClockAsync(TimeProvider egressTime, params FlowPolicy[] flows)
    {
        var mesh = await StartAsync(null, null, null, flows, null, egressTime);
        return mesh;
    }

    /// <summary>The egress keeps its deliveries in <paramref name="egressDataDir"/> (a power-loss filesystem, say), which the test owns.</summary>
    public static Task<Mesh> StartInAsync(string egressDataDir, params FlowPolicy[] flows) => StartAsync(null, null, null, flows, egressDataDir);

    /// <summary>With <paramref name="postgres"/>, the egress (and any started by <see cref="StartAnotherEgressAsync"/>) keeps its deliveries in that database.</summary>
    private static async Task<Mesh> StartAsync(Uri? envoy, string? postgres, MeshTelemetry? telemetry, FlowPolicy[] flows, string? egressDataDir = null, TimeProvider? egressTime = null)
    {
        var mesh = new Mesh(flows, envoy, postgres, egressDataDir) { _telemetry = telemetry, _egressTime = egressTime };
        mesh._ingester = IngesterApp.Build(["--port", "0", "--stream-port", "0", "--data-dir", mesh.IngesterDir, "--xds", "http://127.0.0.1:9", .. telemetry?.Args ?? []],
            b => Quiet(b, telemetry?.IngesterLog));
        var endpoint = new EndpointPolicy { Tenant = "default", Endpoint = "orders", Provider = "none" };
        endpoint.Flows.AddRange(flows.Select(f => new FlowRoute { Flow = f.Flow, EventTypes = { "*" }, Enabled = true }));
        mesh._ingester.Services.GetRequiredService<EndpointPolicies>().Replace([endpoint]);
        await mesh._ingester.StartAsync();
        var endpoints = mesh._ingester.Services.GetRequiredService<IngesterEndpoints>();
        mesh._stream = endpoints.Stream.Uri;
        // Like a provider's client, it sends the traceparent it is given: this process's OpenTelemetry (the services') must not replace it.
        mesh._hooks = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = endpoints.Hooks.Uri };
        await mesh.StartEgressAsync();
        return mesh;
    }

    public async Task StartEgressAsync()
    {
        _egress = await BuildEgressAsync(DataDir);
        Api = ApiClient(_egress, DataDir);
    }

    /// <summary>Starts the egress again on <paramref name="dataDir"/> (what a power loss left of its own), the same job stream and flows.</summary>
    public async Task StartEgressInAsync(string dataDir)
    {
        DataDir = dataDir;
        await StartEgressAsync();
    }

    /// <summary>Stops the egress whose disk is gone: whatever stopping it throws is the dead disk's.</summary>
    public async Task AbandonEgressAsync()
    {
        Api.Dispose();
        try
        {
            await _egress!.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or System.Data.Common.DbException or AggregateException or OperationCanceledException or InvalidOperationException)
        {
        }
        _egress = null;
        // Pooled connections keep their files open, and the filesystem unmounts only once they close.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    /// <summary>A client of an egress's API that sends the token it created in <paramref name="dataDir"/>.</summary>
    public static HttpClient ApiClient(WebApplication egress, string dataDir)
    {
        var client = new HttpClient { BaseAddress = ApiOf(egress) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(Path.Combine(dataDir, "api-token")).Trim());
        return client;
    }

    /// <summary>The data directory of an egress that <see cref="StartAnotherEgressAsync"/> started.</summary>
    public string DataDirOf(WebApplication egress) => _others.Single(o => o.App == egress).Dir;

    /// <summary>One more egress instance on the same job stream and the same PostgreSQL database; stopped with the mesh.</summary>
    public async Task<WebApplication> StartAnotherEgressAsync()
    {
        var dir = Directory.CreateTempSubdirectory("zenmesh-egress-other-").FullName;
        var app = await BuildEgressAsync(dir);
        _others.Add((app, dir));
        return app;
    }

    private async Task<WebApplication> BuildEgressAsync(string dataDir)
    {
        string[] mode = _envoy is null ? ["--direct"] : ["--envoy", _envoy.ToString()];
        string[] store = _postgres is null ? [] : ["--postgres", _postgres];
        var egress = EgressApp.Build(["--port", "0", .. mode, .. store, "--data-dir", dataDir, "--secrets-dir", SecretsDir, "--ingester", _stream.ToString(), "--ingester-secret-file", Path.Combine(IngesterDir, "stream-secret"), "--xds", "http://127.0.0.1:9", .. _telemetry?.Args ?? []],
            b =>
            {
                Quiet(b, _telemetry?.EgressLog);
                if (_egressTime is not null)
                {
                    b.Services.AddSingleton(_egressTime);
                }
            });
        egress.Services.GetRequiredService<FlowPolicies>().Replace(_flows);
        await egress.StartAsync();
        return egress;
    }

    private static void Quiet(WebApplicationBuilder builder, TextWriter? jsonLog)
    {
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (jsonLog is not null)
        {
            builder.Services.AddSingleton(new ZenMesh.Observability.LogOutput(jsonLog));
        }
    }

    public static Uri ApiOf(WebApplication egress) => egress.Services.GetRequiredService<EgressEndpoints>().Api.Uri;

    public async Task StopEgressAsync()
    {
        Api.Dispose();
        await _egress!.StopAsync();
        await _egress.DisposeAsync();
        _egress = null;
    }

    public IDeliveryStore Store => Egress.Services.GetRequiredService<IDeliveryStore>();

    /// <summary>Sends a webhook to the ingester; returns its event id.</summary>
    public async Task<string> SendAsync(string body = """{"type":"order.created","id":1}""", string? traceParent = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/default/orders") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (traceParent is not null)
        {
            request.Headers.Add("traceparent", traceParent);
        }
        using var response = await _hooks.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Waits until the job of <paramref name="eventId"/> for <paramref name="flow"/> is in <paramref name="state"/>; returns it.</summary>
    public async Task<Storage.Delivery> WaitForAsync(string eventId, string flow, string state, TimeSpan? timeout = null)
    {
        Storage.Delivery? found = null;
        try
        {
            await TestTimeouts.Eventually(async () => (found = await Store.GetAsync($"{eventId}/{flow}", CancellationToken.None)) is { } d && d.State == state, $"{eventId}/{flow} is {state}", timeout);
        }
        catch (TimeoutException e)
        {
            var intake = Egress.Services.GetRequiredService<IntakeStatus>();
            throw new TimeoutException($"{e.Message} Last seen: {found?.State ?? "not recorded"}, {found?.Attempts} attempts, last outcome {found?.LastOutcome}. Job stream: connected {intake.Connected}, {intake.Received} received, {intake.Recorded} recorded, last error {intake.LastError ?? "none"}.", e);
        }
        return found!;
    }

    /// <summary>Replaces the egress's flow config, as a new xDS push would; kept across an egress restart.</summary>
    public void SetFlows(params FlowPolicy[] flows)
    {
        _flows.Clear();
        _flows.AddRange(flows);
        Egress.Services.GetRequiredService<FlowPolicies>().Replace(_flows);
    }

    /// <summary>Sends a request to the egress API; returns the status and the JSON answer.</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> SendApiAsync(HttpMethod method, string path)
    {
        using var response = await Api.SendAsync(new HttpRequestMessage(method, path));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement);
    }

    public async Task<JsonElement> GetJsonAsync(string path) => JsonDocument.Parse(await Api.GetStringAsync(path)).RootElement;


    public async ValueTask DisposeAsync()
    {
        _hooks.Dispose();
        if (_egress is not null)
        {
            await StopEgressAsync();
        }
        foreach (var (app, dir) in _others)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
        await _ingester.StopAsync();
        await _ingester.DisposeAsync();
        foreach (var dir in _ownsDataDir ? [DataDir, SecretsDir, IngesterDir] : new[] { SecretsDir, IngesterDir })
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
