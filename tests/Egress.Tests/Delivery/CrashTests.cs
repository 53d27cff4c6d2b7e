using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Egress.Hosting;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Delivery;

/// <summary>
/// The egress as its own process, configured by the real control plane over xDS, killed with
/// SIGKILL while deliveries are in flight and started again: every event reaches the target at
/// least once, none is lost, and every attempt at one event carries the same webhook-id.
/// </summary>
public sealed class CrashTests : IAsyncLifetime
{
    private const int Events = 400;
    private readonly string _egressDir = Directory.CreateTempSubdirectory("zenmesh-egress-crash-").FullName;
    private readonly string _ingesterDir = Directory.CreateTempSubdirectory("zenmesh-egress-crash-ingester-").FullName;
    private RunningServer _server = null!;
    private WebApplication _ingester = null!;
    private Uri _hooksUri = null!;
    private Uri _streamUri = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        _ingester = IngesterApp.Build(["--port", "0", "--stream-port", "0", "--data-dir", _ingesterDir, "--xds", _server.AdsUri.ToString(), "--edge", "default/local"],
            b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await _ingester.StartAsync();
        var endpoints = _ingester.Services.GetRequiredService<IngesterEndpoints>();
        (_hooksUri, _streamUri) = (endpoints.Hooks.Uri, endpoints.Stream.Uri);
    }

    public async Task DisposeAsync()
    {
        await _ingester.StopAsync();
        await _ingester.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_egressDir, recursive: true);
        Directory.Delete(_ingesterDir, recursive: true);
    }

    private Process StartEgress()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                // Port 0: nothing here calls the egress's API, so the OS may pick it.
                typeof(EgressApp).Assembly.Location, "--port", "0", "--direct", "--data-dir", _egressDir,
                "--ingester", _streamUri.ToString(), "--ingester-secret-file", Path.Combine(_ingesterDir, "stream-secret"), "--xds", _server.AdsUri.ToString(), "--edge", "default/local",
            },
            Environment = { ["Logging__LogLevel__Default"] = "Warning" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [Fact]
    public async Task KilledMidDelivery_EveryEventArrivesAtLeastOnce_WithOneWebhookIdPerEvent()
    {
        // Slow enough that the kill lands with deliveries in flight and more waiting.
        await using var target = await TestTarget.StartAsync(async (_, http) => await Task.Delay(40));
        using var hooks = new HttpClient { BaseAddress = _hooksUri };
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("endpoints/orders", """{"edge":"local","provider":"none"}"""),
            ("targets/shop", $$"""{"edge":"local","allowLoopback":true,"url":"{{target.Url}}"}"""),
            ("flows/to-shop", """{"endpoint":"orders","target":"shop","maxInFlight":8,"retry":{"retries":0}}"""));
        var events = new Dictionary<int, string>();
        await TestTimeouts.Eventually(async () =>
        {
            using var probe = await hooks.PostAsync("/hooks/default/orders", new StringContent("""{"type":"probe","n":-1}""", Encoding.UTF8, "application/json"));
            return probe.IsSuccessStatusCode;
        }, "the ingester to receive its endpoint over xDS");
        for (var n = 0; n < Events; n++)
        {
            using var response = await hooks.PostAsync("/hooks/default/orders", new StringContent($$"""{"type":"order.created","n":{{n}}}""", Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
            events[n] = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        }

        var first = StartEgress();
        try
        {
            await TestTimeouts.Eventually(() => Task.FromResult(target.Requests.Count >= Events / 4), "a quarter of the events to reach the target");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
        }
        finally
        {
            if (!first.HasExited)
            {
                first.Kill(entireProcessTree: true);
            }
            first.Dispose();
        }
        var beforeRestart = target.Requests.Count;
        Assert.True(beforeRestart < Events, $"all {Events} events were delivered before the kill; the test needs some left over");

        var second = StartEgress();
        try
        {
            await TestTimeouts.Eventually(() => Task.FromResult(Received().Count(r => r.N >= 0) >= Events), $"every one of the {Events} events to reach the target after the restart", TimeSpan.FromSeconds(60));
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            second.Dispose();
        }

        var received = target.Requests.Select(r => (N: JsonDocument.Parse(r.Body).RootElement.GetProperty("n").GetInt32(), Id: r.Headers["webhook-id"])).Where(r => r.N >= 0).ToList();
        Assert.Equal(Enumerable.Range(0, Events), received.Select(r => r.N).Distinct().Order());
        Assert.All(received, r => Assert.Equal($"{events[r.N]}/to-shop", r.Id));
        // At least once: only what was in flight at the kill (maxInFlight 8) may arrive twice.
        Assert.InRange(received.Count - Events, 0, 8);

        List<(int N, string Id)> Received() => [.. target.Requests.Select(r => (JsonDocument.Parse(r.Body).RootElement.GetProperty("n").GetInt32(), r.Headers["webhook-id"])).Distinct()];
    }
}
