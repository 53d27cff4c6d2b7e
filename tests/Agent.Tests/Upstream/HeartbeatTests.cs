using System.Globalization;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Agent.Tests.Infrastructure;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Agent.Tests.Upstream;

/// <summary>The agent reports its edge upstream (the control plane's /api/v1/status shows it) and its staleness locally, as JSON and as metrics.</summary>
public sealed class HeartbeatTests : IAsyncLifetime
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-hb-").FullName;
    private readonly string _secretsDir = Directory.CreateTempSubdirectory("zenmesh-secrets-").FullName;
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh-secret"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders","signing":{"secretRef":"orders-signing"}}"""));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_stateDir, recursive: true);
        Directory.Delete(_secretsDir, recursive: true);
    }

    private async Task<System.Text.Json.JsonElement> AgentOnControlPlaneAsync()
    {
        var edge = (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges").EnumerateArray().Single();
        return edge.GetProperty("agent");
    }

    [Fact]
    public async Task TheControlPlanesStatus_ShowsWhatTheAgentReports_IncludingMissingSecrets()
    {
        await using var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir, null, "--secrets-dir", _secretsDir, "--Agent:ReportInterval", "00:00:00.200");
        await using var envoy = agent.Delta();
        await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
        await envoy.AckAsync(await envoy.ReceiveAsync(TypeUrls.Cluster));
        var served = _server.Cache.Current("default/local").Version;

        await TestTimeouts.Eventually(async () => await AgentOnControlPlaneAsync() is { ValueKind: System.Text.Json.JsonValueKind.Object } a && a.GetProperty("servedVersion").GetString() == served && a.GetProperty("clients").GetArrayLength() == 1, "the agent's report to reach the control plane");
        var reported = await AgentOnControlPlaneAsync();
        Assert.Equal(["gh-secret", "orders-signing"], reported.GetProperty("missingSecrets").EnumerateArray().Select(s => s.GetString()));
        var client = reported.GetProperty("clients")[0];
        Assert.Equal("default/local", client.GetProperty("node").GetString());
        Assert.True(client.GetProperty("acked").TryGetProperty("CDS", out _));
        Assert.Equal(0, reported.GetProperty("staleSeconds").GetDouble());

        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "gh-secret"), "whsec_not_read_by_the_agent");
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "orders-signing"), "whsec_not_read_by_the_agent");
        await TestTimeouts.Eventually(async () => (await AgentOnControlPlaneAsync()).GetProperty("missingSecrets").GetArrayLength() == 0, "the report to say no secret is missing");
        Assert.Equal(0, (await agent.StatusAsync()).GetProperty("secrets").GetProperty("missing").GetArrayLength());
    }

    [Fact]
    public async Task ServingLastKnownGoodPastTheBound_IsStale_InStatusAndMetrics()
    {
        await using (var online = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir))
        {
            await using var envoy = online.Delta();
            await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
            await envoy.ReceiveAsync(TypeUrls.Cluster);
        }
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var offline = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir, clock, "--staleness-bound", "00:05:00");
        Assert.False((await offline.StatusAsync()).GetProperty("stale").GetBoolean());

        clock.Advance(TimeSpan.FromMinutes(6));

        var status = await offline.StatusAsync();
        Assert.True(status.GetProperty("stale").GetBoolean());
        Assert.InRange(status.GetProperty("staleSeconds").GetDouble(), 360, 400);
        var metrics = await offline.Http.GetStringAsync("/metrics");
        Assert.Contains("zenmesh_agent_config_stale{edge=\"default/local\"} 1\n", metrics, StringComparison.Ordinal);
        Assert.Contains("zenmesh_agent_control_plane_reachable{edge=\"default/local\"} 0\n", metrics, StringComparison.Ordinal);
        var staleSeconds = metrics.Split('\n').Single(l => l.StartsWith("zenmesh_agent_config_stale_seconds{", StringComparison.Ordinal)).Split(' ')[1];
        Assert.InRange(double.Parse(staleSeconds, CultureInfo.InvariantCulture), 360, 400);
    }
}
