using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The data directory on a filesystem that fills up (a small tmpfs, a real ENOSPC): webhooks are
/// answered 503 with Retry-After, never 2xx without storage; /healthz says the store cannot write;
/// every webhook answered 2xx before is kept; and once space returns the ingester recovers by itself
/// (its probe), and the webhook refused earlier is stored as new (nothing of it had been kept).
/// </summary>
public sealed class DiskFullTests : IAsyncDisposable
{
    private const string Secret = "disk-full-secret";
    private readonly string _secretsDir = Directory.CreateTempSubdirectory("zenmesh-disk-full-secrets-").FullName;
    private SmallFilesystem? _filesystem;
    private WebApplication? _app;

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _filesystem?.Dispose();
        Directory.Delete(_secretsDir, recursive: true);
    }

    [SmallFilesystemFact]
    public async Task AFullDisk_Is503WithRetryAfter_NeverA2xx_AndTheIngesterRecoversWhenSpaceReturns()
    {
        _filesystem = SmallFilesystem.Mount(megabytes: 8);
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "gh-secret"), Secret);
        _app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _filesystem.Path, "--secrets-dir", _secretsDir, "--xds", "http://127.0.0.1:9", "--Ingester:StoreProbeInterval", "00:00:00.1"], b => b.Logging.SetMinimumLevel(LogLevel.Critical));
        _app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy { Tenant = "default", Endpoint = "gh", Provider = "github", SecretRef = "gh-secret", MaxBodyBytes = 1 << 20 }]);
        await _app.StartAsync();
        using var http = new HttpClient { BaseAddress = IngesterPorts.Hooks(_app) };
        var store = _app.Services.GetRequiredService<IEventStore>();
        var padding = new string('x', 16 * 1024);

        using (var first = await SendAsync(http, "before-full", padding))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }
        var filler = _filesystem.Fill();

        // The WAL may still have room it can reuse: some webhooks are stored durably on a full disk.
        // Sooner or later one needs space that is not there.
        var accepted = new List<string> { "before-full" };
        string? refused = null;
        for (var n = 0; n < 1000 && refused is null; n++)
        {
            using var response = await SendAsync(http, $"while-full-{n}", padding);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
                Assert.Contains("store_unavailable", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                refused = $"while-full-{n}";
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                accepted.Add($"while-full-{n}");
            }
        }
        Assert.NotNull(refused);
        using (var health = await http.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Contains("store_unwritable", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.False(store.Health.Writable);

        File.Delete(filler);
        await TestTimeouts.Eventually(() => Task.FromResult(store.Health.Writable), "the store's probe to find space again");

        using (var health = await http.GetAsync("/healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        using (var retried = await SendAsync(http, refused, padding))
        {
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
            Assert.False(retried.Headers.Contains("Idempotent-Replay"), "the refused webhook was kept after all");
        }
        foreach (var delivery in accepted)
        {
            using var again = await SendAsync(http, delivery, padding);
            Assert.True(again.Headers.Contains("Idempotent-Replay"), $"{delivery} was answered 2xx but is not in the store");
        }
        Assert.Equal(accepted.Count + 1, store.Count("default", "gh"));
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string delivery, string padding)
    {
        var body = $$"""{"delivery":"{{delivery}}","padding":"{{padding}}"}""";
        return http.SendAsync(GitHubWebhook.Request("/hooks/default/gh", body, delivery, Secret));
    }
}
