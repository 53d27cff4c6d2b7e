using System.Net;
using System.Text;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Auth;

/// <summary>
/// The control plane's route table: every route it serves, the listener it is served on, and who
/// may call it. The test reads the routes from the running server, so a route added without a row
/// here (or without a declared rule) fails, and calls every HTTP route as each kind of caller.
/// </summary>
public sealed class RouteTableTests : IAsyncLifetime
{
    /// <summary>Who may call a route.</summary>
    public enum Access
    {
        /// <summary>Anyone (health, the API's description).</summary>
        Anyone,
        /// <summary>A token of the tenant with at least this role, or the operator.</summary>
        Viewer,
        Editor,
        Admin,
        /// <summary>The operator only: spans every tenant.</summary>
        Operator,
        /// <summary>Anyone while the HTTP listener is on loopback (as here); the operator beyond it.</summary>
        MetricsOnLoopback,
        /// <summary>A console page: as <see cref="Viewer"/>, but one not signed in is sent to sign in (a redirect, not a 401).</summary>
        ConsoleViewer,
        /// <summary>gRPC on the xDS port: an edge proves who it is on each call (mutual TLS with --tls), enrollment with its one-time token.</summary>
        EdgeCall,
    }

    /// <summary>The table. Listener "http" is the Flow API port, "xds" the gRPC port.</summary>
    public static readonly (string Route, string Listener, Access Access)[] Table =
    [
        ("GET /api/v1/{kind}", "http", Access.Viewer),
        ("GET /api/v1/{kind}/{name}", "http", Access.Viewer),
        ("PUT /api/v1/{kind}/{name}", "http", Access.Editor),
        ("DELETE /api/v1/{kind}/{name}", "http", Access.Editor),
        ("GET /api/v1/flows/{name}/envoy", "http", Access.Viewer),
        ("POST /api/v1/apply", "http", Access.Editor),
        ("GET /api/v1/status", "http", Access.Viewer),
        ("GET /api/v1/tokens", "http", Access.Admin),
        ("POST /api/v1/tokens", "http", Access.Admin),
        ("DELETE /api/v1/tokens/{id}", "http", Access.Admin),
        ("GET /api/v1/tenants", "http", Access.Operator),
        ("POST /api/v1/tenants", "http", Access.Operator),
        ("DELETE /api/v1/tenants/{name}", "http", Access.Operator),
        ("GET /api/v1/evidence", "http", Access.Viewer),
        ("GET /api/v1/evidence/verify", "http", Access.Viewer),
        ("POST /api/v1/edges/{name}/enrollment", "http", Access.Editor),
        ("POST /api/v1/edges/{name}/rotate", "http", Access.Editor),
        ("GET /api/v1/edges/{name}/credentials", "http", Access.Viewer),
        ("GET /api/v1/openapi.json", "http", Access.Anyone),
        ("GET /admin/xds/clients", "http", Access.Operator),
        ("GET /admin/xds/nacks", "http", Access.Operator),
        ("GET /admin/xds/snapshot", "http", Access.Operator),
        ("GET /admin/xds/source", "http", Access.Operator),
        ("GET /metrics", "http", Access.MetricsOnLoopback),
        ("GET /healthz", "http", Access.Anyone),
        ("GET /ui", "http", Access.ConsoleViewer),
        ("POST /ui", "http", Access.ConsoleViewer),
        ("GET /ui/edges/{Name}", "http", Access.ConsoleViewer),
        ("POST /ui/edges/{Name}", "http", Access.ConsoleViewer),
        ("GET /ui/sign-in", "http", Access.Anyone),
        ("POST /ui/sign-in", "http", Access.Anyone),
        ("POST /ui/session", "http", Access.Anyone),
        ("POST /ui/sign-out", "http", Access.ConsoleViewer),
        ("GET /_framework/opaque-redirect", "http", Access.Viewer),
        ("gRPC /envoy.service.discovery.v3.AggregatedDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /envoy.service.cluster.v3.ClusterDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /envoy.service.endpoint.v3.EndpointDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /envoy.service.listener.v3.ListenerDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /envoy.service.route.v3.RouteDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /envoy.service.secret.v3.SecretDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /envoy.service.status.v3.ClientStatusDiscoveryService/*", "xds", Access.EdgeCall),
        ("gRPC /zenmesh.v1.EdgeEnrollment/*", "xds", Access.EdgeCall),
        ("gRPC /zenmesh.v1.EdgeReports/*", "xds", Access.EdgeCall),
        ("gRPC /{unimplementedService}/*", "xds", Access.EdgeCall),
    ];

    private static readonly Dictionary<string, string> Values = new() { ["kind"] = "edges", ["name"] = "local", ["Name"] = "local", ["id"] = "no-such-token" };

    /// <summary>The callers each HTTP route is tried with.</summary>
    private enum CallerKind { NoToken, UnknownToken, Viewer, Editor, Admin, OtherTenantsAdmin, Operator }

    private RunningServer _server = null!;
    private readonly Dictionary<CallerKind, HttpClient> _callers = [];

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _callers[CallerKind.NoToken] = _server.Client(null);
        _callers[CallerKind.UnknownToken] = _server.Client("zm_not_a_token_of_this_server");
        _callers[CallerKind.Viewer] = _server.Client(await _server.CreateTokenAsync("viewer", "viewer"));
        _callers[CallerKind.Editor] = _server.Client(await _server.CreateTokenAsync("editor", "editor"));
        _callers[CallerKind.Admin] = _server.Client(await _server.CreateTokenAsync("admin", "admin"));
        // Another tenant's admin, naming this one: what it may do in its own tenant is the isolation test's.
        _callers[CallerKind.OtherTenantsAdmin] = _server.Client(await _server.CreateTenantAsync("acme"), tenant: "default");
        _callers[CallerKind.Operator] = _server.Client(RunningServer.AdminToken);
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _callers.Values)
        {
            client.Dispose();
        }
        await _server.DisposeAsync();
    }

    [Fact]
    public void EveryServedRoute_HasARow_AndEveryRowAServedRoute()
    {
        var routes = RouteTable.Of(_server.Services);

        var withoutRow = routes.Where(r => !Table.Any(t => RouteTable.Matches(t.Route, r))).Select(r => r.Key).ToList();
        var withoutRoute = Table.Where(t => !routes.Any(r => RouteTable.Matches(t.Route, r))).Select(t => t.Route).ToList();

        Assert.True(withoutRow.Count == 0, $"Routes served without a row in the table (declare who may call each, then add it): {string.Join(", ", withoutRow)}");
        Assert.True(withoutRoute.Count == 0, $"Rows for routes that are not served: {string.Join(", ", withoutRoute)}");
    }

    [Fact]
    public void EveryRoute_DeclaresItsListener_AndARule()
    {
        foreach (var route in RouteTable.Of(_server.Services))
        {
            var (_, listener, access) = Table.First(t => RouteTable.Matches(t.Route, route));
            Assert.True(route.Listener == listener, $"{route.Key} is served on '{route.Listener}', the table says '{listener}'.");
            Assert.True(route.Anonymous || route.Policy is not null, $"{route.Key} declares no authorization rule.");
            Assert.True(route.Anonymous == access is Access.Anyone or Access.EdgeCall, $"{route.Key}: anonymous is {route.Anonymous}, the table says {access}.");
        }
    }

    [Fact]
    public async Task EveryHttpRoute_AnswersEachCaller_AsTheTableSays()
    {
        await _server.PutAllOkAsync(("edges/local", "{}"), ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""));
        var failures = new List<string>();
        foreach (var route in RouteTable.Of(_server.Services).Where(r => !r.IsGrpc))
        {
            var access = Table.First(t => RouteTable.Matches(t.Route, route)).Access;
            var path = RouteTable.Concrete(route.Pattern, Values);
            foreach (var (caller, client) in _callers)
            {
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
                if (route.Method is "POST" or "PUT")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }
                using var response = await client.SendAsync(request).WithTimeout($"{route.Method} {path} as {caller}");
                var expected = Expected(access, caller);
                var status = (int)response.StatusCode;
                var ok = expected is null ? status is not (401 or 403) : status == (int)expected;
                if (expected == HttpStatusCode.Found)
                {
                    // The client follows the redirect: what it must end on is the console's sign-in page.
                    ok = response.IsSuccessStatusCode && response.RequestMessage?.RequestUri?.AbsolutePath == "/ui/sign-in";
                }
                if (!ok)
                {
                    failures.Add($"{route.Method} {path} as {caller}: {status}, expected {(expected is null ? "allowed" : ((int)expected).ToString(System.Globalization.CultureInfo.InvariantCulture))}; {await response.Content.ReadAsStringAsync()}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task EveryHttpRoute_IsNotFound_OnTheXdsPort()
    {
        using var client = new HttpClient { BaseAddress = _server.AdsUri, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TestTimeouts.Default };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RunningServer.AdminToken);
        foreach (var route in RouteTable.Of(_server.Services).Where(r => !r.IsGrpc))
        {
            var path = RouteTable.Concrete(route.Pattern, Values);
            using var request = new HttpRequestMessage(new HttpMethod(route.Method), path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await client.SendAsync(request).WithTimeout($"{route.Method} {path} on the xDS port");
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{route.Method} {path} on the xDS port answered {(int)response.StatusCode}.");
        }
    }

    [Fact]
    public async Task Metrics_BeyondLoopback_NeedTheOperatorsToken()
    {
        await using var wide = await RunningServer.StartAsync("--bind", "0.0.0.0", "--Xds:AllowInsecureRemote=true", "--Xds:AllowInsecureHttp=true");
        using var anonymous = wide.Client(null);
        using var tenantAdmin = wide.Client(await wide.CreateTokenAsync("admin"));
        using var operatorClient = wide.Client(RunningServer.AdminToken);

        using var none = await anonymous.GetAsync("/metrics").WithTimeout("metrics without a token");
        using var admin = await tenantAdmin.GetAsync("/metrics").WithTimeout("metrics as a tenant's admin");
        using var op = await operatorClient.GetAsync("/metrics").WithTimeout("metrics as the operator");
        using var health = await anonymous.GetAsync("/healthz").WithTimeout("healthz without a token");

        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, admin.StatusCode);
        Assert.Equal(HttpStatusCode.OK, op.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    /// <summary>Null: allowed (any answer but 401 and 403); otherwise the refusal expected.</summary>
    private static HttpStatusCode? Expected(Access access, CallerKind caller)
    {
        if (access is Access.Anyone or Access.MetricsOnLoopback)
        {
            return null;
        }
        if (caller is CallerKind.NoToken or CallerKind.UnknownToken)
        {
            return access == Access.ConsoleViewer ? HttpStatusCode.Found : HttpStatusCode.Unauthorized;
        }
        if (access == Access.ConsoleViewer)
        {
            access = Access.Viewer;
        }
        var role = caller switch
        {
            CallerKind.Viewer => Access.Viewer,
            CallerKind.Editor => Access.Editor,
            CallerKind.Admin => Access.Admin,
            CallerKind.Operator => Access.Operator,
            // Another tenant's admin may do nothing in this tenant, whatever its role.
            _ => (Access?)null,
        };
        return role is { } r && r >= access ? null : HttpStatusCode.Forbidden;
    }
}
