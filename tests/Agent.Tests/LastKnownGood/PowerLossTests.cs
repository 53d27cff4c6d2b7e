using Microsoft.Extensions.Logging;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.Agent.Tests.LastKnownGood;

/// <summary>
/// The agent's last-known-good under a power loss (tests/powerloss: only what was fsync'd
/// survives), pulled while generations are being saved: after the restart the newest generation
/// whose save returned is served (or the one being saved, if its rename had become durable), and
/// never a torn one, also with a random part of the unsynced writes on disk.
/// </summary>
public sealed class PowerLossTests
{
    [PowerLossFact]
    public async Task WhileSaving_TheNewestSyncedGeneration_IsServedAfterThePlug_NeverATornOne()
    {
        foreach (var (plugAfter, seed) in new (int, int?)[] { (3, null), (40, null), (20, 5), (25, 11) })
        {
            await PlugWhileSavingAsync(plugAfter, seed);
        }
    }

    private static async Task PlugWhileSavingAsync(int plugAfter, int? unsyncedPrefixSeed)
    {
        await using var fs = await PowerLossFilesystem.MountAsync();
        var store = new GenerationStore(Path.Combine(fs.Path, "generations"), keep: 3, new ErrorLog());
        long saved = 0;
        var saving = Task.Run(() =>
        {
            for (var i = 1; ; i++)
            {
                try
                {
                    Volatile.Write(ref saved, store.Save(Cluster(i), DateTimeOffset.UnixEpoch).Sequence);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return;
                }
            }
        });
        await TestTimeouts.Eventually(() => Task.FromResult(Volatile.Read(ref saved) >= plugAfter), $"{plugAfter} generations saved");
        await fs.PullThePlugAsync();
        await saving.WaitAsync(TestTimeouts.Default);
        var acknowledged = Volatile.Read(ref saved);

        var log = new ErrorLog();
        var loaded = new GenerationStore(Path.Combine(await fs.RebuildAsync(unsyncedPrefixSeed), "generations"), keep: 3, log).LoadNewest();

        Assert.NotNull(loaded);
        Assert.True(loaded.Sequence == acknowledged || loaded.Sequence == acknowledged + 1, $"generation {loaded.Sequence} was served after the plug ({plugAfter}, seed {unsyncedPrefixSeed}); the newest saved was {acknowledged}");
        Assert.Equal($"c{loaded.Sequence}", loaded.Snapshot.Get(TypeUrls.Cluster).Resources.Keys.Single());
        Assert.Empty(log.Errors);
    }

    private static Snapshot Cluster(int n) => Snapshot.Create([
        XdsResource.Create(new Envoy.Config.Cluster.V3.Cluster { Name = $"c{n}", ConnectTimeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(n)) }),
    ], "test");

    /// <summary>Keeps what the store reports as errors (a corrupt generation on the way to the newest good one).</summary>
    private sealed class ErrorLog : ILogger<GenerationStore>
    {
        public List<string> Errors { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                lock (Errors)
                {
                    Errors.Add(formatter(state, exception));
                }
            }
        }
    }
}
