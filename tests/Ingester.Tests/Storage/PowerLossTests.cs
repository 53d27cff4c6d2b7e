using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Data;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The ingester's promise under a power loss (tests/powerloss: only what was fsync'd survives):
/// every webhook answered 2xx is there after the restart, exactly once, with its dedup entry (its
/// redelivery is answered as a replay of the same id), for several plug moments under load, and
/// with a random part of the unsynced writes on disk too. And the proof that this can fail: the
/// same store with its syncs skipped loses acknowledged events, and the harness says so.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class PowerLossTests
{
    private const string Secret = "power-loss-secret";

    [PowerLossFact]
    public async Task AStoreThatSyncs_KeepsEveryAcknowledgedEvent_AndOneThatSkipsItsSyncs_IsCaughtLosingThem()
    {
        var synced = await LostAfterPowerLossAsync(skipSync: false);
        var unsynced = await LostAfterPowerLossAsync(skipSync: true);

        Assert.True(synced.Lost == 0, $"the store that syncs lost {synced.Lost} of {synced.Acknowledged} acknowledged events");
        Assert.True(unsynced.Lost > 0, $"the harness did not catch a store that skips its syncs: it kept all {unsynced.Acknowledged} acknowledged events");
    }

    /// <summary>Appends until 200 events are acknowledged, pulls the plug, and counts the acknowledged events the rebuilt store lacks.</summary>
    private static async Task<(int Acknowledged, int Lost)> LostAfterPowerLossAsync(bool skipSync)
    {
        await using var fs = await PowerLossFilesystem.MountAsync();
        var acknowledged = new List<string>();
        // Keys written to their tables every 16, so the plug also finds some between two such writes.
        var store = new SqliteEventStore(Options.Create(new IngesterOptions { DataDir = Path.Combine(fs.Path, "ingester"), SkipSyncForTests = skipSync, DedupWriteBatch = 16 }), TimeProvider.System, NullLogger<SqliteEventStore>.Instance);
        for (var n = 0; n < 200; n++)
        {
            acknowledged.Add((await store.AppendAsync(Event($"d-{n}")).WaitAsync(TestTimeouts.Default)).Id);
        }
        await fs.PullThePlugAsync();
        await AbandonAsync(store);

        var rebuilt = await fs.RebuildAsync();
        try
        {
            await using var reopened = new SqliteEventStore(Options.Create(new IngesterOptions { DataDir = Path.Combine(rebuilt, "ingester"), DedupWriteBatch = 16 }), TimeProvider.System, NullLogger<SqliteEventStore>.Instance);
            var lost = acknowledged.Count(id => reopened.Body(id) is null);
            if (lost == 0)
            {
                // Each one's dedup key too: a redelivery is the same event.
                for (var n = 0; n < acknowledged.Count; n++)
                {
                    Assert.Equal(new StoredEvent(acknowledged[n], Duplicate: true), await reopened.AppendAsync(Event($"d-{n}")).WaitAsync(TestTimeouts.Default));
                }
            }
            return (acknowledged.Count, lost);
        }
        catch (DamagedDatabaseException)
        {
            return (acknowledged.Count, acknowledged.Count);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
        }
    }

    [PowerLossFact]
    public async Task UnderLoad_EveryWebhookAnswered2xx_IsThereExactlyOnceAfterThePlug_WithItsDedupEntry()
    {
        // Early and late in a run, and once with some of the unsynced writes on disk as well.
        foreach (var (plugAfter, unsyncedPrefixSeed) in new (int, int?)[] { (25, null), (400, null), (150, 17) })
        {
            await PlugUnderLoadAndCheckAsync(plugAfter, unsyncedPrefixSeed);
        }
    }

    private static async Task PlugUnderLoadAndCheckAsync(int plugAfter, int? unsyncedPrefixSeed)
    {
        var secrets = Directory.CreateTempSubdirectory("zenmesh-powerloss-secrets-").FullName;
        await File.WriteAllTextAsync(Path.Combine(secrets, "gh-secret"), Secret);
        await using var fs = await PowerLossFilesystem.MountAsync();
        var answered = new ConcurrentDictionary<string, string>();
        // A data directory the ingester creates: its own entry must be as durable as the files in it.
        var first = await StartAsync(Path.Combine(fs.Path, "ingester"), secrets);
        using (var http = new HttpClient { BaseAddress = IngesterPorts.Hooks(first) })
        {
            using var stop = new CancellationTokenSource();
            var next = 0;
            var senders = Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var delivery = $"delivery-{Interlocked.Increment(ref next)}";
                    try
                    {
                        using var response = await SendAsync(http, delivery, stop.Token);
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            answered[delivery] = (await JsonAsync(response)).GetProperty("id").GetString()!;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                    {
                        // The ingester is going down with its disk.
                    }
                }
            })).ToList();
            await TestTimeouts.Eventually(() => Task.FromResult(answered.Count >= plugAfter), $"{plugAfter} webhooks answered 2xx", TimeSpan.FromSeconds(60));
            await fs.PullThePlugAsync();
            await Task.Delay(100);
            await stop.CancelAsync();
            await Task.WhenAll(senders);
        }
        await AbandonAsync(first);

        var rebuilt = await fs.RebuildAsync(unsyncedPrefixSeed);
        await using var second = await StartAsync(Path.Combine(rebuilt, "ingester"), secrets);
        using (var http = new HttpClient { BaseAddress = IngesterPorts.Hooks(second) })
        {
            foreach (var (delivery, id) in answered)
            {
                using var again = await SendAsync(http, delivery, CancellationToken.None);
                Assert.Equal(HttpStatusCode.OK, again.StatusCode);
                Assert.True(again.Headers.Contains("Idempotent-Replay"), $"{delivery} was answered 2xx as {id} before the plug ({plugAfter}, seed {unsyncedPrefixSeed}) but is not in the store after it");
                Assert.Equal(id, (await JsonAsync(again)).GetProperty("id").GetString());
            }
            var store = second.Services.GetRequiredService<IEventStore>();
            Assert.True(store.Count("default", "gh") >= answered.Count);
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(secrets, recursive: true);
    }

    private static async Task<WebApplication> StartAsync(string dataDir, string secrets)
    {
        // Dedup keys written to their tables every 32: the plug lands between such writes too.
        var app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", dataDir, "--secrets-dir", secrets, "--xds", "http://127.0.0.1:9", "--Ingester:DedupWriteBatch", "32"], b => b.Logging.SetMinimumLevel(LogLevel.Critical));
        app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy { Tenant = "default", Endpoint = "gh", Provider = "github", SecretRef = "gh-secret", MaxBodyBytes = 65536 }]);
        await app.StartAsync();
        return app;
    }

    /// <summary>After the plug every write fails: whatever stopping the service throws is the dead disk's.</summary>
    private static async Task AbandonAsync(IAsyncDisposable service)
    {
        try
        {
            await service.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or SqliteException or StoreUnavailableException or AggregateException or OperationCanceledException)
        {
        }
        // Pooled connections keep their files open, and the filesystem unmounts only once they close.
        SqliteConnection.ClearAllPools();
    }

    private static IncomingEvent Event(string key) =>
        new("default", "gh", key, "push", DateTimeOffset.UtcNow, "{}"u8.ToArray(), Encoding.UTF8.GetBytes($$"""{"key":"{{key}}","padding":"{{new string('x', 900)}}"}"""), ["to-ci"]);

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, string delivery, CancellationToken cancellationToken)
    {
        var body = $$"""{"delivery":"{{delivery}}","padding":"{{new string('x', 900)}}"}""";
        return http.SendAsync(GitHubWebhook.Request("/hooks/default/gh", body, delivery, Secret), cancellationToken);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
}
