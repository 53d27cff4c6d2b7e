using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Storage;

/// <summary>
/// The control plane under a power loss of its disk (tests/powerloss: only what was fsync'd
/// survives), pulled while changes are being made: every change answered 2xx is there after the
/// restart, also with a random part of the unsynced writes on disk.
/// </summary>
public sealed class PowerLossTests
{
    [PowerLossFact]
    public async Task WhileChanging_EveryChangeAnswered2xx_IsThereAfterThePlug()
    {
        foreach (var (plugAfter, seed) in new (int, int?)[] { (5, null), (60, null), (30, 9) })
        {
            await PlugWhileChangingAsync(plugAfter, seed);
        }
    }

    private static async Task PlugWhileChangingAsync(int plugAfter, int? unsyncedPrefixSeed)
    {
        await using var fs = await PowerLossFilesystem.MountAsync();
        // A data directory the control plane creates: its own entry must be as durable as the files in it.
        var server = await RunningServer.StartAsync("--data-dir", Path.Combine(fs.Path, "control-plane"));
        var answered = new ConcurrentBag<string>();
        Assert.Equal(HttpStatusCode.Created, (await server.Http.PutAsync("/api/v1/edges/local", Json("""{"mode":"vm"}"""))).StatusCode);
        answered.Add("edges/local");
        using (var stop = new CancellationTokenSource())
        {
            var next = 0;
            var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var name = $"ep-{Interlocked.Increment(ref next)}";
                    try
                    {
                        using var response = await server.Http.PutAsync($"/api/v1/endpoints/{name}", Json("""{"edge":"local","provider":"none"}"""), stop.Token);
                        if (response.IsSuccessStatusCode)
                        {
                            answered.Add($"endpoints/{name}");
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
                    {
                        // The control plane is going down with its disk.
                    }
                }
            })).ToList();
            await TestTimeouts.Eventually(() => Task.FromResult(answered.Count >= plugAfter), $"{plugAfter} changes answered 2xx", TimeSpan.FromSeconds(60));
            await fs.PullThePlugAsync();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }
        try
        {
            await server.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or SqliteException or TimeoutException or AggregateException or OperationCanceledException or InvalidOperationException)
        {
            // Stopping on a dead disk.
        }
        SqliteConnection.ClearAllPools();

        var rebuilt = await fs.RebuildAsync(unsyncedPrefixSeed);
        await using var restarted = await RunningServer.StartAsync("--data-dir", Path.Combine(rebuilt, "control-plane"));
        foreach (var resource in answered)
        {
            using var response = await restarted.Http.GetAsync($"/api/v1/{resource}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{resource} was answered 2xx before the plug ({plugAfter}, seed {unsyncedPrefixSeed}) but is {(int)response.StatusCode} after it");
        }
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
