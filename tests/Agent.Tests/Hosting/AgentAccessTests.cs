using System.Net;
using Microsoft.Extensions.DependencyInjection;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Tests.Infrastructure;

namespace ZenMesh.Agent.Tests.Hosting;

/// <summary>
/// The agent's route table. Its status port may be bound beyond loopback (for a kubelet's probes);
/// then only /healthz answers without the agent's token: the admin views name every local client,
/// its subscriptions and NACK texts. The xDS relay serves gRPC only, on loopback.
/// </summary>
public sealed class AgentAccessTests : IAsyncLifetime
{
    /// <summary>The relay (PerCall) is on loopback only, for the edge's own processes, which it trusts.</summary>
    public static readonly (string Route, string Listener, ServiceRouteAccess Access)[] Table =
    [
        ("GET /healthz", "status", ServiceRouteAccess.Anyone),
        ("GET /status", "status", ServiceRouteAccess.LocalOrToken),
        ("GET /metrics", "status", ServiceRouteAccess.LocalOrToken),
        ("GET /admin/xds/clients", "status", ServiceRouteAccess.LocalOrToken),
        ("GET /admin/xds/nacks", "status", ServiceRouteAccess.LocalOrToken),
        ("GET /admin/xds/snapshot", "status", ServiceRouteAccess.LocalOrToken),
        ("gRPC /envoy.service.discovery.v3.AggregatedDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /envoy.service.cluster.v3.ClusterDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /envoy.service.endpoint.v3.EndpointDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /envoy.service.listener.v3.ListenerDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /envoy.service.route.v3.RouteDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /envoy.service.secret.v3.SecretDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /envoy.service.status.v3.ClientStatusDiscoveryService/*", "xds", ServiceRouteAccess.PerCall),
        ("gRPC /{unimplementedService}/*", "xds", ServiceRouteAccess.PerCall),
    ];

    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-access-").FullName;
    private RunningAgent _agent = null!;

    public async Task InitializeAsync() => _agent = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir);

    public async Task DisposeAsync() => await _agent.DisposeAsync();

    private string Token => File.ReadAllText(Path.Combine(_stateDir, "api-token")).Trim();

    [Fact]
    public void EveryServedRoute_HasARow_OnItsListener_WithARule() => ServiceAccessChecks.HoldsTheTable(RouteTable.Of(_agent.Services), Table);

    [Fact]
    public async Task EveryHttpRoute_AnswersEachCaller_AsTheTableSays_OnLoopback_AndBeyond()
    {
        var failures = new List<string>();
        await CallEveryRouteAsync(beyondLoopback: false, failures);
        await _agent.DisposeAsync();
        _agent = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir, null, "--status-bind", "0.0.0.0");
        await CallEveryRouteAsync(beyondLoopback: true, failures);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task WithAHealthPort_ProbesReachHealthzAlone_AndStatusStaysOnLoopback()
    {
        await _agent.DisposeAsync();
        _agent = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir, null, "--health-port", "0");
        var endpoints = _agent.Services.GetRequiredService<AgentEndpoints>();
        using var health = new HttpClient { BaseAddress = new UriBuilder(endpoints.Health.Uri) { Host = "127.0.0.1" }.Uri };
        using var status = new HttpClient { BaseAddress = endpoints.Status.Uri };

        Assert.Equal(IPAddress.Any, endpoints.Health.EndPoint.Address);
        Assert.True(IPAddress.IsLoopback(endpoints.Status.EndPoint.Address));
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/healthz")).StatusCode);
        foreach (var path in new[] { "/status", "/metrics", "/admin/xds/clients" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await health.GetAsync(path)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await status.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await status.GetAsync("/status")).StatusCode);
    }

    [Fact]
    public async Task TheRelayPort_ServesNoAdminView()
    {
        using var h2c = new HttpClient { BaseAddress = _agent.XdsUri, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        foreach (var path in new[] { "/admin/xds/clients", "/status", "/metrics" })
        {
            using var response = await h2c.GetAsync(path).WithTimeout(path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    private async Task CallEveryRouteAsync(bool beyondLoopback, List<string> failures) =>
        failures.AddRange(await ServiceAccessChecks.CallEveryRouteAsync(RouteTable.Of(_agent.Services), Table, _agent.Services.GetRequiredService<AgentEndpoints>().Status.Uri, Token, beyondLoopback, new Dictionary<string, string>()));
}
