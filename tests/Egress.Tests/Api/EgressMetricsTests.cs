using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Api;

/// <summary>GET /metrics after real deliveries: attempts by flow and outcome, dead letters by whose fault, and what waits per flow.</summary>
public sealed class EgressMetricsTests
{
    [Fact]
    public async Task Metrics_CountAttemptsByOutcome_AndDeadLettersByFault()
    {
        await using var target = await TestTarget.StartAsync((n, http) => TestTarget.Status(n == 1 ? 500 : 200)(n, http));
        var ok = Mesh.Flow("ok", target.Url, TimeSpan.FromMilliseconds(100));
        var ours = Mesh.ShortLived("ours", target.Url);
        ours.SigningSecretRef = "absent";
        // Fails once, then waits two minutes for its redelivery: the pending gauge must show it.
        await using var down = await TestTarget.StartAsync(TestTarget.Status(502));
        var later = Mesh.Flow("later", down.Url, TimeSpan.FromMinutes(2));
        await using var mesh = await Mesh.StartAsync(ok, ours, later);
        var id = await mesh.SendAsync();
        await mesh.WaitForAsync(id, "ok", DeliveryStates.Delivered);
        await mesh.WaitForAsync(id, "ours", DeliveryStates.Dead);
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{id}/later", CancellationToken.None))?.Attempts == 1, "the later flow's first attempt failed");

        using var response = await mesh.Api.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("text/plain; version=0.0.4", response.Content.Headers.ContentType!.ToString());
        var lines = text.Split('\n');
        Assert.Contains("zenmesh_egress_attempts_total{edge=\"default/local\",flow=\"default/ok\",outcome=\"failed\"} 1", lines);
        Assert.Contains("zenmesh_egress_attempts_total{edge=\"default/local\",flow=\"default/ok\",outcome=\"delivered\"} 1", lines);
        Assert.Contains("zenmesh_egress_dead_lettered_total{edge=\"default/local\",flow=\"default/ours\",fault=\"zenmesh\"} 1", lines);
        Assert.Contains("zenmesh_egress_pending{edge=\"default/local\",flow=\"default/later\"} 1", lines);
        Assert.Contains("zenmesh_egress_concurrency_max{edge=\"default/local\",flow=\"default/ok\",target=\"ok-target\"} 10", lines);
        Assert.Contains("zenmesh_egress_in_flight{edge=\"default/local\",flow=\"default/ok\",target=\"ok-target\"} 0", lines);
        Assert.Contains(lines, l => l.StartsWith("zenmesh_egress_attempt_latency_seconds_count{edge=\"default/local\"} ", StringComparison.Ordinal) && long.Parse(l.Split(' ')[1]) >= 3);
        Assert.Contains("zenmesh_egress_flows{edge=\"default/local\"} 3", lines);
    }
}
