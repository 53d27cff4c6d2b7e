using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Delivery;

/// <summary>
/// The egress's promise under a power loss of its own disk (tests/powerloss: only what was fsync'd
/// survives), with deliveries in flight: every job it acknowledged to the ingester (which then
/// forgot it) is in its store after the restart and is delivered, and a delivery it had recorded
/// as delivered stays delivered and is not sent again. The ingester's disk is not the one that fails.
/// </summary>
[Collection(PowerLossTests.Name)]
public sealed class PowerLossTests
{
    public const string Name = "egress power loss";

    [PowerLossFact]
    public async Task WithDeliveriesInFlight_EveryAcknowledgedJobSurvivesThePlug_AndWhatWasDeliveredStaysDelivered()
    {
        // Early and late in the run, and once with some of the unsynced writes on disk as well.
        foreach (var (plugAfter, seed) in new (int, int?)[] { (10, null), (120, null), (60, 23) })
        {
            await PlugWhileDeliveringAsync(plugAfter, seed);
        }
    }

    private static async Task PlugWhileDeliveringAsync(int plugAfter, int? unsyncedPrefixSeed)
    {
        const int events = 200;
        await using var target = await TestTarget.StartAsync(async (_, _) => await Task.Delay(5));
        await using var fs = await PowerLossFilesystem.MountAsync();
        // A data directory the egress creates: its own entry must be as durable as the files in it.
        await using var mesh = await Mesh.StartInAsync(Path.Combine(fs.Path, "egress"), Mesh.Flow("orders", target.Url));
        var sent = new List<string>();
        for (var n = 0; n < events; n++)
        {
            sent.Add(await mesh.SendAsync($$"""{"type":"order.created","id":{{n}}}"""));
        }
        await TestTimeouts.Eventually(() => Task.FromResult(target.Requests.Count >= plugAfter), $"{plugAfter} deliveries");

        // What the egress has recorded as delivered (committed, so synced) just before the plug.
        var delivered = new List<string>();
        foreach (var id in sent)
        {
            if (await mesh.Store.GetAsync($"{id}/orders", CancellationToken.None) is { State: DeliveryStates.Delivered })
            {
                delivered.Add($"{id}/orders");
            }
        }
        await fs.PullThePlugAsync();
        await mesh.AbandonEgressAsync();
        var before = Received(target);

        await mesh.StartEgressInAsync(Path.Combine(await fs.RebuildAsync(unsyncedPrefixSeed), "egress"));

        // Every event reaches the target: a job the egress acknowledged and then lost would never come again.
        await TestTimeouts.Eventually(() => Task.FromResult(sent.All(id => Received(target).ContainsKey($"{id}/orders"))), $"all {events} events delivered after the plug ({plugAfter}, seed {unsyncedPrefixSeed})", TimeSpan.FromSeconds(60));
        var after = Received(target);
        foreach (var job in delivered)
        {
            Assert.Equal(DeliveryStates.Delivered, (await mesh.Store.GetAsync(job, CancellationToken.None))?.State);
            Assert.True(after[job] == before[job], $"{job} was recorded as delivered before the plug, and was sent again after it");
        }
    }

    private static Dictionary<string, int> Received(TestTarget target) =>
        target.Requests.GroupBy(r => r.Headers.GetValueOrDefault("webhook-id") ?? "").ToDictionary(g => g.Key, g => g.Count());
}
