using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Identity;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.XdsServer.Hosting;
using ZenMesh.XdsServer.Sources;

namespace ZenMesh.LocalStack;

/// <summary>
/// The whole mesh on one machine, in one process: the control plane (SQLite, TLS on xDS), an agent
/// enrolled against it with a one-time bundle, the ingester and the egress configured through the
/// agent's relay, the echo receiver as the demo flow's target, and Envoy when there is one (the
/// egress delivers through it; without it the egress delivers directly). Started in that order and
/// stopped in the reverse.
/// </summary>
public sealed class LocalMesh : IAsyncDisposable
{
    private readonly List<(object Part, Func<ValueTask> Stop)> _stops = [];
    private WebApplication? _server;
    private WebApplication? _agent;
    private WebApplication? _ingester;
    private WebApplication? _egress;
    private int _streamPort;
    private int _hookPort;
    private Uri _echoTarget = null!;

    private LocalMesh(LocalMeshOptions options) => Options = options;

    public LocalMeshOptions Options { get; }

    public Uri Api { get; private set; } = null!;
    public Uri Ads { get; private set; } = null!;
    public Uri AgentXds { get; private set; } = null!;
    public Uri AgentStatus { get; private set; } = null!;
    public Uri Hooks { get; private set; } = null!;
    public Uri IngesterStream { get; private set; } = null!;
    public Uri EgressApi { get; private set; } = null!;
    public EchoReceiver Echo { get; private set; } = null!;
    public string AdminTokenFile => Path.GetFullPath(Path.Combine(Options.ControlPlaneDir, "admin-token"));

    /// <summary>The egress's API token (its delivery log and replays), created on its first start.</summary>
    public string EgressTokenFile => Path.GetFullPath(Path.Combine(Options.EgressDir, ZenMesh.Hosting.ServiceToken.FileName));

    /// <summary>The Envoy running, or null when the egress delivers directly.</summary>
    public EnvoyProcess? Envoy { get; private set; }

    /// <summary>Where a webhook is sent: Envoy's ingress listener with Envoy, else the ingester.</summary>
    public Uri WebhookEntry => Envoy is null ? Hooks : new Uri("http://127.0.0.1:10000");

    public static async Task<LocalMesh> StartAsync(LocalMeshOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var stack = new LocalMesh(options);
        try
        {
            await stack.RunAsync(output, cancellationToken).ConfigureAwait(false);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>How each part is hosted here: stopped by the stack, and saying only what needs attention (the stack prints its own summary).</summary>
    private static void Embedded(WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.Logging.AddFilter("ZenMesh", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Error);
        builder.Logging.AddFilter("Microsoft", LogLevel.Error);
    }

    private async Task<WebApplication> StartAppAsync(WebApplication app, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _stops.Add((app, async () =>
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }));
        return app;
    }

    private async Task StopAppAsync(WebApplication? app)
    {
        var index = _stops.FindIndex(s => ReferenceEquals(s.Part, app));
        if (index >= 0)
        {
            var stop = _stops[index].Stop;
            _stops.RemoveAt(index);
            await stop().ConfigureAwait(false);
        }
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private async Task RunAsync(TextWriter output, CancellationToken cancellationToken)
    {
        var o = Options;
        Directory.CreateDirectory(o.DataDir);
        DemoMesh.EnsureSecrets(o.SecretsDir);

        // 1. The control plane: desired state and the edge CA in its data directory, mutual TLS on xDS.
        var server = _server = await StartAppAsync(XdsServerApp.Build(["--data-dir", o.ControlPlaneDir, "--ads-port", Port(o.AdsPort), "--http-port", Port(o.ApiPort), "--tls"], Embedded), cancellationToken).ConfigureAwait(false);
        var bound = server.Services.GetRequiredService<BoundEndpoints>();
        (Api, Ads) = (bound.Http.Uri, bound.Ads.Uri);

        // 2. The demo flow's target, then the demo's desired state pointing at it.
        Echo = await EchoReceiver.StartAsync(o.EchoPort, o.SecretsDir, output, cancellationToken).ConfigureAwait(false);
        _stops.Add((Echo, Echo.DisposeAsync));
        using var api = new HttpClient { BaseAddress = Api };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(AdminTokenFile, cancellationToken).ConfigureAwait(false)).Trim());
        // The ingester's port is fixed before it starts (Envoy's ingress routes to it), so a port of 0 is picked here.
        _hookPort = o.HookPort != 0 ? o.HookPort : FreePort();
        _echoTarget = o.EnvoyHostAlias is { } alias ? new UriBuilder(Echo.Url) { Host = alias }.Uri : Echo.Url;
        var bundle = o.EnvoyHostAlias is not null
            ? DemoMesh.Bundle(_echoTarget, $"{o.EnvoyHostAlias}:{_hookPort}", "0.0.0.0")
            : DemoMesh.Bundle(_echoTarget, $"127.0.0.1:{_hookPort}");
        await SendAsync(api, HttpMethod.Post, "/api/v1/apply", bundle, "apply the demo's desired state", cancellationToken).ConfigureAwait(false);

        // 3. The agent, enrolled once per data directory with a one-time bundle, then relaying over mutual TLS.
        if (CredentialFiles.Load(o.AgentStateDir) is null)
        {
            var enrollment = Path.Combine(o.DataDir, "enrollment-bundle.json");
            ZenMesh.Secrets.SecretFile.Write(enrollment, await SendAsync(api, HttpMethod.Post, $"/api/v1/edges/{DemoMesh.Edge}/enrollment", null, "create an enrollment bundle", cancellationToken).ConfigureAwait(false));
            using var enrollErrors = new StringWriter();
            var enrolled = await EnrollCommand.RunAsync(enrollment, o.AgentStateDir, TextWriter.Null, enrollErrors, cancellationToken).ConfigureAwait(false);
            File.Delete(enrollment);
            if (enrolled != 0)
            {
                throw new InvalidOperationException($"the agent could not enroll: {enrollErrors}");
            }
        }
        await StartAgentAsync(cancellationToken).ConfigureAwait(false);

        // 4. Envoy, when there is one: configured through the agent like any edge Envoy.
        if (EnvoyProcess.Find(o.Envoy) is { } binary)
        {
            Envoy = await EnvoyProcess.StartAsync(binary, o, AgentXds.Port, output).ConfigureAwait(false);
            _stops.Add((Envoy, Envoy.DisposeAsync));
        }

        // 5. Ingester and egress, both clients of the agent's relay; the egress opens the job stream to the ingester.
        _streamPort = o.StreamPort != 0 ? o.StreamPort : FreePort(except: _hookPort);
        await StartIngesterAndEgressAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StartAgentAsync(CancellationToken cancellationToken)
    {
        var o = Options;
        _agent = await StartAppAsync(AgentApp.Build(["--state-dir", o.AgentStateDir, "--control-plane", Ads.ToString(), "--xds-port", Port(AgentXds?.Port ?? o.AgentXdsPort), "--status-port", Port(AgentStatus?.Port ?? o.AgentStatusPort), "--secrets-dir", o.SecretsDir], Embedded), cancellationToken).ConfigureAwait(false);
        var agentEndpoints = _agent.Services.GetRequiredService<AgentEndpoints>();
        (AgentXds, AgentStatus) = (agentEndpoints.Xds.Uri, agentEndpoints.Status.Uri);
    }

    private async Task StartIngesterAndEgressAsync(CancellationToken cancellationToken)
    {
        var o = Options;
        _ingester = await StartAppAsync(IngesterApp.Build(["--xds", AgentXds.ToString(), "--edge", DemoMesh.NodeId, "--data-dir", o.IngesterDir, "--secrets-dir", o.SecretsDir,
            "--port", Port(_hookPort), "--stream-port", Port(_streamPort)], Embedded), cancellationToken).ConfigureAwait(false);
        var ingester = _ingester.Services.GetRequiredService<IngesterEndpoints>();
        (Hooks, IngesterStream) = (ingester.Hooks.Uri, ingester.Stream.Uri);
        string[] mode = (o.ExternalEnvoyEgress, Envoy) switch
        {
            ({ } external, _) => ["--envoy", external.ToString()],
            (null, null) => ["--direct"],
            _ => ["--envoy", "http://127.0.0.1:10001"],
        };
        _egress = await StartAppAsync(EgressApp.Build(["--xds", AgentXds.ToString(), "--edge", DemoMesh.NodeId, "--data-dir", o.EgressDir, "--secrets-dir", o.SecretsDir,
            "--ingester", IngesterStream.ToString(), "--ingester-secret-file", Path.Combine(o.IngesterDir, "stream-secret"), "--port", Port(EgressApi?.Port ?? o.EgressPort), .. mode], Embedded), cancellationToken).ConfigureAwait(false);
        EgressApi = _egress.Services.GetRequiredService<EgressEndpoints>().Api.Uri;

        // Ready when the demo's config (as applied now, or the last-known-good when the control plane is down) has come through the agent to both.
        var endpoints = _ingester.Services.GetRequiredService<EndpointPolicies>();
        var flows = _egress.Services.GetRequiredService<FlowPolicies>();
        using var ready = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ready.CancelAfter(o.ReadyTimeout);
        try
        {
            while (endpoints.Find(DemoMesh.Tenant, DemoMesh.Endpoint) is null || flows.Find(DemoMesh.Tenant, DemoMesh.Flow)?.TargetUrl != _echoTarget.ToString())
            {
                await Task.Delay(100, ready.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the demo's config did not reach the ingester and egress within {o.ReadyTimeout.TotalSeconds:0} s; see the agent's status at {AgentStatus}status.");
        }
    }

    /// <summary>
    /// Stops the control plane and leaves everything else running: the fail-static drill. The edge
    /// keeps serving on what it holds, and the agent keeps retrying the control plane.
    /// </summary>
    public Task StopControlPlaneAsync() => StopAppAsync(_server);

    /// <summary>
    /// Restarts the edge (agent, ingester, egress) as a host reboot would. With the control plane
    /// down, each comes up on its last-known-good. Each listens where it did before.
    /// </summary>
    public async Task RestartEdgeAsync(CancellationToken cancellationToken)
    {
        await StopAppAsync(_egress).ConfigureAwait(false);
        await StopAppAsync(_ingester).ConfigureAwait(false);
        await StopAppAsync(_agent).ConfigureAwait(false);
        await StartAgentAsync(cancellationToken).ConfigureAwait(false);
        await StartIngesterAndEgressAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string> SendAsync(HttpClient api, HttpMethod method, string path, string? json, string what, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await api.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode ? body : throw new InvalidOperationException($"could not {what}: {(int)response.StatusCode} {body}");
    }

    /// <summary>A port free now; not <paramref name="except"/>, picked earlier and not yet bound (the kernel may hand it out again).</summary>
    private static int FreePort(int except = -1)
    {
        while (true)
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            if (port != except)
            {
                return port;
            }
        }
    }

    /// <summary>What a newcomer needs to see: where each part listens, the token, and a webhook to send.</summary>
    public string Summary(string deliveryId)
    {
        var secret = DemoMesh.ReadSecret(Options.SecretsDir, DemoMesh.EndpointSecret);
        var mode = Options.ExternalEnvoyEgress is { } external
            ? $"an Envoy this stack does not run; the egress delivers through its egress listener {external}"
            : Envoy is null
            ? "no envoy binary on PATH: the egress delivers directly (--direct) and webhooks go straight to the ingester"
            : $"Envoy configured by the control plane through the agent: ingress on :10000, egress listener on :10001";
        return $"""

            ZenMesh local stack is up (data in {Path.GetFullPath(Options.DataDir)})
              control plane   Flow API {Api}  xDS (mutual TLS) {Ads}
                              admin token in {AdminTokenFile}
                              console {new UriBuilder(Api) { Host = "localhost", Path = "/ui" }.Uri} (sign in with that token)
              agent           edge {DemoMesh.NodeId}, enrolled; xDS relay {AgentXds}  status {AgentStatus}status
              ingester        webhooks {Hooks}hooks/<tenant>/<endpoint>  status {Hooks}status  job stream {IngesterStream}
              egress          delivery log {EgressApi}deliveries  status {EgressApi}status
                              API token in {EgressTokenFile}
              echo receiver   {Echo.Url} (the target of flow {DemoMesh.Flow}; GET it to see what arrived)
              envoy           {mode}

            Send a signed GitHub webhook to endpoint {DemoMesh.Endpoint}:

              {DemoMesh.Curl(WebhookEntry, secret, deliveryId)}

            The echo receiver prints the delivery with its signature verified. Send it again and the ingester
            answers 200 with Idempotent-Replay: true (deduplicated on the signed body: GitHub does not sign X-GitHub-Delivery).
            Then: curl -s '{EgressApi}deliveries?flow={DemoMesh.Flow}' -H "Authorization: Bearer $(cat '{EgressTokenFile}')"
            Ctrl-C stops everything.

            """;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _stops.Count - 1; i >= 0; i--)
        {
            await _stops[i].Stop().ConfigureAwait(false);
        }
        _stops.Clear();
    }
}
