using System.Net;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Delivery;

/// <summary>
/// The egress's side of its contract with Envoy, against a stand-in that answers as Envoy's egress
/// listener does: every attempt names its flow in x-zenmesh-flow; an answer from the target (it has
/// x-envoy-upstream-service-time) is the target's, x-zenmesh-envoy names the Envoy in the log; a
/// circuit-breaker overflow (x-envoy-overloaded) is backpressure, not a failure; Envoy's own 404
/// (no route for the flow) and an Envoy that does not answer are ZenMesh's fault, not the customer's.
/// The real Envoy is in RealEnvoy/EnvoyDeliveryTests (Docker).
/// </summary>
public sealed class EnvoyModeTests
{
    /// <summary>Answers as Envoy would: routes known flows to a "target" that says 200, overflows the first few of "busy", has no route for others.</summary>
    private static Task<TestTarget> StandInEnvoyAsync(int overflows) => TestTarget.StartAsync((n, http) =>
    {
        var flow = http.Request.Headers["x-zenmesh-flow"].ToString();
        http.Response.Headers["x-zenmesh-envoy"] = "envoy-standin";
        switch (flow)
        {
            case "busy" when n <= overflows:
                http.Response.StatusCode = 503;
                http.Response.Headers["x-envoy-overloaded"] = "true";
                break;
            case "busy" or "orders":
                http.Response.Headers["x-envoy-upstream-service-time"] = "3";
                http.Response.StatusCode = 200;
                break;
            default:
                http.Response.StatusCode = 404;
                break;
        }
        return Task.CompletedTask;
    });

    [Fact]
    public async Task ThroughEnvoy_TheAttemptNamesItsFlow_AndTheLogNamesTheEnvoy()
    {
        await using var envoy = await StandInEnvoyAsync(0);
        await using var mesh = await Mesh.StartAsync(envoy.Url, Mesh.Flow("orders", new Uri("http://192.0.2.10/hook")));

        var id = await mesh.SendAsync();
        await mesh.WaitForAsync(id, "orders", DeliveryStates.Delivered);

        var request = Assert.Single(envoy.Requests);
        Assert.Equal(("orders", $"{id}/orders"), (request.Headers["x-zenmesh-flow"], request.Headers["webhook-id"]));
        var attempt = Assert.Single(await mesh.Store.AttemptsAsync($"{id}/orders", CancellationToken.None));
        Assert.StartsWith("envoy envoy-standin at ", attempt.Via);
    }

    [Fact]
    public async Task Overflow_IsBackpressure_TheFlowSlowsDown_AndNothingCountsAsAFailure()
    {
        await using var envoy = await StandInEnvoyAsync(overflows: 3);
        await using var mesh = await Mesh.StartAsync(envoy.Url, Mesh.Flow("busy", new Uri("http://192.0.2.10/hook")));

        var id = await mesh.SendAsync();
        var delivered = await mesh.WaitForAsync(id, "busy", DeliveryStates.Delivered);

        var attempts = await mesh.Store.AttemptsAsync(delivered.JobId, CancellationToken.None);
        Assert.Equal([AttemptOutcomes.Backpressure, AttemptOutcomes.Backpressure, AttemptOutcomes.Backpressure, AttemptOutcomes.Delivered], attempts.Select(a => a.Outcome));
        Assert.All(attempts, a => Assert.Null(a.Fault));
        Assert.Equal(0, delivered.Failures);
        var metrics = await mesh.Api.GetStringAsync("/metrics");
        Assert.Contains("zenmesh_egress_attempts_total{edge=\"default/local\",flow=\"default/busy\",outcome=\"backpressure\"} 3", metrics.Split('\n'));
    }

    [Fact]
    public async Task NoRouteInEnvoy_OrNoEnvoy_IsZenMeshsFault()
    {
        await using var envoy = await StandInEnvoyAsync(0);
        await using var mesh = await Mesh.StartAsync(envoy.Url, Mesh.Flow("unrouted", new Uri("http://192.0.2.10/hook"), TimeSpan.FromMinutes(10)));

        var id = await mesh.SendAsync();
        Attempt? attempt = null;
        await TestTimeouts.Eventually(async () => (attempt = (await mesh.Store.AttemptsAsync($"{id}/unrouted", CancellationToken.None)) is [var a, ..] ? a : null) is not null, "the first attempt is logged");

        Assert.Equal((404, AttemptOutcomes.Failed, Faults.ZenMesh), (attempt!.Status, attempt.Outcome, attempt.Fault));
        Assert.Contains("no route for flow 'unrouted'", attempt.Detail);

        var (held, port) = TestPorts.Refusing();
        using var refusing = held;
        var nothing = new Uri($"http://127.0.0.1:{port}/");
        await using var without = await Mesh.StartAsync(nothing, Mesh.Flow("orders", new Uri("http://192.0.2.10/hook"), TimeSpan.FromMinutes(10)));
        var other = await without.SendAsync();
        await TestTimeouts.Eventually(async () => (attempt = (await without.Store.AttemptsAsync($"{other}/orders", CancellationToken.None)) is [var a, ..] ? a : null) is not null, "the first attempt is logged");
        Assert.Equal((null, AttemptOutcomes.Failed, Faults.ZenMesh), (attempt!.Status, attempt.Outcome, attempt.Fault));
        Assert.Contains("did not answer", attempt.Detail);
    }
}
