using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The ingester as its own process, killed with SIGKILL in the middle of a load of webhooks and
/// started again: every webhook that was answered 2xx is there exactly once (a provider's retry of
/// it is an idempotent replay with the same id), and retrying the rest leaves one event per webhook.
/// A process crash, not a power loss: what the killed process wrote stays in the page cache, so
/// this cannot tell whether the store synced (the power-loss tests do).
/// </summary>
public sealed class CrashTests : IAsyncLifetime
{
    private const string Secret = "crash-test-secret";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-crash-").FullName;
    private readonly string _secretsDir = Directory.CreateTempSubdirectory("zenmesh-crash-secrets-").FullName;
    private readonly int _port = IngesterPorts.FreePort();
    private readonly int _streamPort = IngesterPorts.FreePort();
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "gh-secret"), Secret);
        _server = await RunningServer.StartAsync();
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh-secret"}"""));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_secretsDir, recursive: true);
    }

    private Process StartIngester()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { typeof(IngesterApp).Assembly.Location, "--port", _port.ToString(CultureInfo.InvariantCulture), "--stream-port", _streamPort.ToString(CultureInfo.InvariantCulture), "--data-dir", _dataDir, "--xds", _server.AdsUri.ToString(), "--edge", "default/local" },
            Environment = { ["ZENMESH_SECRETS_DIR"] = _secretsDir, ["Logging__LogLevel__Default"] = "Warning" },
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

    private static async Task<(HttpStatusCode Status, string? Id, bool Replay)> DeliverAsync(HttpClient http, string delivery)
    {
        var body = $$"""{"delivery":"{{delivery}}","padding":"{{new string('x', 900)}}"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/default/gh") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(body))));
        request.Headers.Add("X-GitHub-Delivery", delivery);
        request.Headers.Add("X-GitHub-Event", "push");
        using var response = await http.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, null, false);
        }
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        return (response.StatusCode, id, response.Headers.Contains("Idempotent-Replay"));
    }

    private SqliteEventStore OpenStore() =>
        new(Options.Create(new IngesterOptions { DataDir = _dataDir }), TimeProvider.System, NullLogger<SqliteEventStore>.Instance);

    [Fact]
    public async Task KilledUnderLoad_EveryAcknowledgedWebhookIsThereExactlyOnce()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}"), Timeout = TimeSpan.FromSeconds(10) };
        var first = StartIngester();
        var sent = new ConcurrentBag<string>();
        var acknowledged = new ConcurrentDictionary<string, string>();
        try
        {
            await TestTimeouts.Eventually(async () =>
            {
                try
                {
                    return (await DeliverAsync(http, "probe")).Status == HttpStatusCode.OK;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the ingester process to start and receive its endpoint over xDS");

            using var stop = new CancellationTokenSource();
            var senders = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var delivery = $"d-{worker}-{n}";
                    sent.Add(delivery);
                    try
                    {
                        if (await DeliverAsync(http, delivery) is (HttpStatusCode.OK, { } id, _))
                        {
                            acknowledged[delivery] = id;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        // The process is gone: this sender stops, as a provider would until its retry.
                        return;
                    }
                }
            })).ToList();
            await TestTimeouts.Eventually(() => Task.FromResult(acknowledged.Count >= 300), "300 webhooks to be acknowledged under load");

            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            await stop.CancelAsync();
            await Task.WhenAll(senders).WaitAsync(TestTimeouts.Default);
        }
        finally
        {
            if (!first.HasExited)
            {
                first.Kill(entireProcessTree: true);
            }
            first.Dispose();
        }

        // Offline, straight from the store: every acknowledged event survived the kill.
        await using (var offline = OpenStore())
        {
            Assert.All(acknowledged, a => Assert.NotNull(offline.Body(a.Value)));
        }

        var second = StartIngester();
        try
        {
            await TestTimeouts.Eventually(async () =>
            {
                try
                {
                    return (await DeliverAsync(http, "probe")).Replay;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, "the restarted ingester to answer");

            // The providers retry everything: what was acknowledged is a replay with its original id.
            foreach (var delivery in sent.Distinct())
            {
                var (status, id, replay) = await DeliverAsync(http, delivery);
                Assert.Equal(HttpStatusCode.OK, status);
                if (acknowledged.TryGetValue(delivery, out var original))
                {
                    Assert.True(replay, $"{delivery} was acknowledged before the kill but was stored again");
                    Assert.Equal(original, id);
                }
            }
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            second.Dispose();
        }

        await using var after = OpenStore();
        Assert.Equal(sent.Distinct().Count() + 1, after.Count("default", "gh"));
    }
}
