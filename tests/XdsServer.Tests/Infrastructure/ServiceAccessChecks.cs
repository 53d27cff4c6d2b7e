using System.Text;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>Who may call a route of a data-plane service (agent, ingester, egress).</summary>
public enum ServiceRouteAccess
{
    /// <summary>Anyone: health, and webhooks (which prove themselves by signature).</summary>
    Anyone,
    /// <summary>The service's API token.</summary>
    Token,
    /// <summary>Anyone while the route's listener is on loopback; the token beyond it.</summary>
    LocalOrToken,
    /// <summary>gRPC that authenticates each call itself (the job stream's secret, the loopback relay).</summary>
    PerCall,
}

/// <summary>
/// The route table checks every data-plane service runs: each served route has a row naming its
/// listener and who may call it, and each HTTP route answers no token, a wrong token and the
/// service's token as its row says, on loopback and beyond it.
/// </summary>
internal static class ServiceAccessChecks
{
    public static void HoldsTheTable(IReadOnlyList<ServedRoute> routes, IReadOnlyList<(string Route, string Listener, ServiceRouteAccess Access)> table)
    {
        var withoutRow = routes.Where(r => !table.Any(t => RouteTable.Matches(t.Route, r))).Select(r => r.Key).ToList();
        Assert.True(withoutRow.Count == 0, $"Routes served without a row in the table (declare who may call each, then add it): {string.Join(", ", withoutRow)}");
        Assert.All(table, t => Assert.True(routes.Any(r => RouteTable.Matches(t.Route, r)), $"The row {t.Route} names no served route."));
        foreach (var route in routes)
        {
            var row = table.First(t => RouteTable.Matches(t.Route, route));
            Assert.True(row.Listener == route.Listener, $"{route.Key} is served on '{route.Listener}', the table says '{row.Listener}'.");
            Assert.True(route.Anonymous == row.Access is ServiceRouteAccess.Anyone or ServiceRouteAccess.PerCall, $"{route.Key}: anonymous is {route.Anonymous}, the table says {row.Access}.");
            Assert.True(route.Anonymous || route.Policy is not null, $"{route.Key} declares no rule.");
        }
    }

    /// <summary>Calls every HTTP route served on <paramref name="listener"/> as each caller; returns what answered otherwise than the table says.</summary>
    public static async Task<List<string>> CallEveryRouteAsync(
        IReadOnlyList<ServedRoute> routes,
        IReadOnlyList<(string Route, string Listener, ServiceRouteAccess Access)> table,
        Uri listener,
        string token,
        bool beyondLoopback,
        IReadOnlyDictionary<string, string> values,
        Func<string>? body = null)
    {
        var reachable = listener.Host == "0.0.0.0" ? new UriBuilder(listener) { Host = "127.0.0.1" }.Uri : listener;
        var failures = new List<string>();
        foreach (var route in routes.Where(r => !r.IsGrpc))
        {
            var access = table.First(t => RouteTable.Matches(t.Route, route)).Access;
            var path = RouteTable.Concrete(route.Pattern, values);
            foreach (var (caller, presented) in new[] { ("no token", (string?)null), ("a wrong token", "zm_svc_wrong_" + new string('1', 40)), ("the token", token) })
            {
                using var client = new HttpClient { BaseAddress = reachable, Timeout = TestTimeouts.Default };
                if (presented is not null)
                {
                    client.DefaultRequestHeaders.Authorization = new("Bearer", presented);
                }
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
                if (route.Method is "POST" or "PUT")
                {
                    request.Content = new StringContent(body?.Invoke() ?? "", Encoding.UTF8, "application/json");
                }
                using var response = await client.SendAsync(request).WithTimeout($"{route.Method} {path}");
                var allowed = access == ServiceRouteAccess.Anyone || presented == token || (access == ServiceRouteAccess.LocalOrToken && !beyondLoopback);
                var status = (int)response.StatusCode;
                if (allowed ? status is 401 or 403 : status != 401)
                {
                    failures.Add($"{route.Method} {path} as {caller}{(beyondLoopback ? " beyond loopback" : "")}: {status}, expected {(allowed ? "allowed" : "401")}");
                }
            }
        }
        return failures;
    }
}
