using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ZenMesh.Deploy.Tests.Infrastructure;
using ZenMesh.LocalStack;

namespace ZenMesh.Deploy.Tests.Local;

/// <summary>
/// The README's run command, from an empty data directory: the whole mesh comes up (control plane,
/// an agent enrolled with a one-time bundle, ingester, egress, echo receiver), the curl it prints
/// sends a signed webhook that arrives at the echo receiver with its signature verified, the same
/// curl again is deduplicated, a restart on the same directory picks up where it was, and stopping
/// frees every port. With an Envoy binary given, Envoy is started on a bootstrap pointed at the agent.
/// </summary>
public sealed class LocalMeshTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-local-").FullName;

    /// <summary>Every port free-picked, so the test runs beside anything else on the machine.</summary>
    private LocalMeshOptions Options(string? envoy = "") => new()
    {
        DataDir = _dir, AdsPort = 0, ApiPort = 0, AgentXdsPort = 0, AgentStatusPort = 0, HookPort = 0, StreamPort = 0, EgressPort = 0, EchoPort = 0, Envoy = envoy,
    };

    private static async Task<(int Code, string Output)> ShellAsync(string command)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(command);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync().WithTimeout("the printed command");
        await process.WaitForExitAsync().WithTimeout("the printed command");
        return (process.ExitCode, output + await process.StandardError.ReadToEndAsync());
    }

    private static string CurlIn(string summary) => summary.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("curl -si ", StringComparison.Ordinal));

    [Fact]
    public async Task FromNothing_ThePrintedCurl_IsDeliveredToTheEchoReceiverWithItsSignatureVerified()
    {
        var output = new StringWriter();
        int apiPort;
        await using (var mesh = await LocalMesh.StartAsync(Options(), TextWriter.Synchronized(output), CancellationToken.None).WithTimeout("the local stack", TimeSpan.FromSeconds(90)))
        {
            apiPort = mesh.Api.Port;
            var summary = mesh.Summary("demo-first");
            Assert.Contains("no envoy binary", summary);
            Assert.Contains(mesh.AdminTokenFile, summary);
            Assert.True(File.Exists(mesh.AdminTokenFile));

            var (code, answer) = await ShellAsync(CurlIn(summary));
            Assert.True(code == 0, answer);
            Assert.Contains("HTTP/1.1 200", answer);
            await TestTimeouts.Eventually(() => Task.FromResult(mesh.Echo.All.Count > 0), "the delivery at the echo receiver");
            var delivery = mesh.Echo.All.Single();
            Assert.True(delivery.Verified, delivery.Detail);
            Assert.EndsWith("/demo-to-echo", delivery.WebhookId);
            Assert.Contains("Design for failure.", delivery.Body);
            Assert.Contains("signature verified", output.ToString());

            var (_, again) = await ShellAsync(CurlIn(summary));
            Assert.Contains("Idempotent-Replay: true", again);
            // The delivery log, through the command the summary prints (with the egress's token).
            var (logCode, logText) = await ShellAsync(summary.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("Then: curl -s ", StringComparison.Ordinal))["Then: ".Length..]);
            Assert.True(logCode == 0, logText);
            var log = JsonDocument.Parse(logText).RootElement;
            Assert.Equal("delivered", log.GetProperty("deliveries")[0].GetProperty("state").GetString());
            using var anonymous = new HttpClient { BaseAddress = mesh.EgressApi };
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/deliveries?flow=demo-to-echo")).StatusCode);
        }

        // Stopped: its ports are free again.
        using var listener = new TcpListener(IPAddress.Loopback, apiPort);
        listener.Start();
    }

    [Fact]
    public async Task Restarted_OnTheSameDataDirectory_KeepsItsEnrollmentAndDeliversAgain()
    {
        await using (await LocalMesh.StartAsync(Options(), TextWriter.Null, CancellationToken.None).WithTimeout("the first start", TimeSpan.FromSeconds(90)))
        {
        }
        var credential = File.ReadAllText(Path.Combine(_dir, "agent-state", "credential", "edge.crt"));

        await using var mesh = await LocalMesh.StartAsync(Options(), TextWriter.Null, CancellationToken.None).WithTimeout("the restart", TimeSpan.FromSeconds(90));
        var (code, answer) = await ShellAsync(CurlIn(mesh.Summary("demo-second")));

        Assert.True(code == 0 && answer.Contains("HTTP/1.1 200", StringComparison.Ordinal), answer);
        await TestTimeouts.Eventually(() => Task.FromResult(mesh.Echo.All.Any(d => d.Verified)), "the delivery after the restart");
        Assert.Equal(credential, File.ReadAllText(Path.Combine(_dir, "agent-state", "credential", "edge.crt")));
    }

    private static async Task<JsonElement> AgentStatusAsync(LocalMesh mesh)
    {
        using var http = new HttpClient();
        return JsonDocument.Parse(await http.GetStringAsync(new Uri(mesh.AgentStatus, "/status"))).RootElement;
    }

    /// <summary>
    /// Fail static, end to end in direct mode (the Envoy-container variant is RealEnvoy/MeshThroughEnvoyTests):
    /// webhooks keep coming while the control plane is stopped, and every accepted one is delivered; then
    /// the whole edge restarts with the control plane still down, comes up on its last-known-good, and
    /// accepts and delivers again, while the agent says it is serving stale config.
    /// </summary>
    [Fact]
    public async Task TheControlPlaneStoppedDuringTraffic_AndTheEdgeRestartedWhileItIsDown_EveryAcceptedWebhookIsDelivered()
    {
        await using var mesh = await LocalMesh.StartAsync(Options(), TextWriter.Null, CancellationToken.None).WithTimeout("the local stack", TimeSpan.FromSeconds(90));
        var secret = DemoTraffic.Secret(mesh);
        using var hooks = DemoTraffic.Client(mesh.Hooks);

        // Traffic runs while the control plane goes away under it.
        var accepted = await DemoTraffic.AroundAsync(hooks, secret, "during", mesh.StopControlPlaneAsync);
        await TestTimeouts.Eventually(() => Task.FromResult(accepted.All(id => DemoTraffic.Delivered(mesh, id))), "every webhook accepted around the outage to be delivered");

        // The edge restarts as after a reboot; the control plane is still down.
        await mesh.RestartEdgeAsync(CancellationToken.None).WithTimeout("the edge to restart on its last-known-good", TimeSpan.FromSeconds(60));
        var status = await AgentStatusAsync(mesh);
        Assert.False(status.GetProperty("controlPlane").GetProperty("reachable").GetBoolean());
        Assert.StartsWith("last-known-good", status.GetProperty("config").GetProperty("source").GetString());
        using var restartedHooks = DemoTraffic.Client(mesh.Hooks);
        var afterRestart = new List<string>();
        for (var n = 0; n < 5; n++)
        {
            afterRestart.Add(Assert.IsType<string>(await DemoTraffic.SendAsync(restartedHooks, secret, $"after-restart-{n}", $"00-{n + 1:x32}-00f067aa0ba902b7-01")));
        }
        await TestTimeouts.Eventually(() => Task.FromResult(afterRestart.All(id => DemoTraffic.Delivered(mesh, id))),
            "the webhooks accepted after the restart to be delivered");
        Assert.All(mesh.Echo.All, d => Assert.True(d.Verified, d.Detail));
        // Each sender's trace reached the target with its delivery.
        Assert.Equal(Enumerable.Range(1, 5).Select(n => n.ToString("x32", System.Globalization.CultureInfo.InvariantCulture)), afterRestart.Select(id => DemoTraffic.TraceIdAtTarget(mesh, id)));
    }

    [Fact]
    public async Task WithAnEnvoyBinary_EnvoyIsStartedOnABootstrapPointedAtTheAgent_AndTheEgressDeliversThroughIt()
    {
        // A stand-in for the envoy binary (none can be had here): it records how it was started and stays up.
        var args = Path.Combine(_dir, "envoy-args");
        var envoy = Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName, "envoy");
        await File.WriteAllTextAsync(envoy, $"#!/bin/sh\necho \"$@\" > {args}\nexec sleep 600\n");
        File.SetUnixFileMode(envoy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        await using var mesh = await LocalMesh.StartAsync(Options(envoy), TextWriter.Null, CancellationToken.None).WithTimeout("the local stack", TimeSpan.FromSeconds(90));
        var summary = mesh.Summary("demo-envoy");
        var started = (await File.ReadAllTextAsync(args)).Trim().Split(' ');
        var bootstrap = await File.ReadAllTextAsync(started[Array.IndexOf(started, "-c") + 1]);
        using var egress = new HttpClient { BaseAddress = mesh.EgressApi };
        var status = JsonDocument.Parse(await egress.GetStringAsync("/status")).RootElement;

        Assert.Contains("http://127.0.0.1:10000/hooks/default/demo", summary);
        Assert.Contains($"port_value: {mesh.AgentXds.Port}", bootstrap);
        Assert.Contains("default/local", bootstrap);
        Assert.Contains("10001", status.GetProperty("mode").GetString());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}
