using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Stores;

/// <summary>
/// Several egress instances on one PostgreSQL database, each taking jobs from the same ingester:
/// every event reaches the target once, an instance that stops mid-delivery leaves its deliveries
/// to the other, and a hold (410 Gone) or resume made through one instance reaches the other.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class SharedStoreTests(PostgresServerFixture postgres)
{
    private static Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>> CountsAsync(WebApplication egress) =>
        egress.Services.GetRequiredService<IDeliveryStore>().CountsAsync(CancellationToken.None);

    private static bool Held(WebApplication egress, string flow) => egress.Services.GetRequiredService<DeliveryScheduler>().Lanes.Single(l => l.Flow == flow).Held;

    [PostgresFact]
    public async Task AnotherTenantsEgress_OnTheSameDatabase_SeesAndReplaysNoneOfTheseDeliveries()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        var database = await postgres.CreateDatabaseAsync();
        await using var mesh = await Mesh.StartAsync(null, database, Mesh.Flow("orders", target.Url));
        var eventId = await mesh.SendAsync();
        await mesh.WaitForAsync(eventId, "orders", DeliveryStates.Delivered);
        var dir = Directory.CreateTempSubdirectory("zenmesh-egress-globex-").FullName;
        await using var globex = ZenMesh.Egress.Hosting.EgressApp.Build(["--direct", "--port", "0", "--postgres", database, "--data-dir", dir, "--edge", "globex/edge-9", "--xds", "http://127.0.0.1:9", "--ingester", "http://127.0.0.1:9"],
            b => b.Logging.ClearProviders());
        await globex.StartAsync();
        using var api = Mesh.ApiClient(globex, dir);

        var log = await api.GetStringAsync("/deliveries");
        using var one = await api.GetAsync($"/deliveries/{eventId}/orders");
        using var named = await api.GetAsync("/deliveries?tenant=default");
        using var replay = await api.PostAsync("/replays?all=true&dryRun=true", null);

        Assert.DoesNotContain(eventId, log, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, one.StatusCode);
        Assert.DoesNotContain(eventId, await named.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("\"matched\":0", await replay.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await globex.Services.GetRequiredService<IDeliveryStore>().CountsAsync(CancellationToken.None));
        await globex.StopAsync();
    }

    [PostgresFact]
    public async Task TwoInstances_ShareTheDeliveries_AndEachEventReachesItsTargetOnce()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(null, await postgres.CreateDatabaseAsync(), Mesh.Flow("orders", target.Url), Mesh.Flow("audit", target.Url));
        var other = await mesh.StartAnotherEgressAsync();

        for (var i = 0; i < 150; i++)
        {
            await mesh.SendAsync($$"""{"type":"order.created","id":{{i}}}""");
        }
        await TestTimeouts.Eventually(async () => (await CountsAsync(other)) is var c && c.Values.Sum(s => s[DeliveryStates.Delivered]) == 300, "all 300 deliveries delivered");

        var ids = target.Requests.Select(r => r.Headers["webhook-id"]).ToList();
        Assert.Equal(300, ids.Distinct().Count());
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [PostgresFact]
    public async Task AnInstanceStoppingMidDelivery_LeavesItsDeliveriesToTheOther()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var target = await TestTarget.StartAsync(async (_, http) =>
        {
            // Until released, the target never answers: the first instance is stopped with these in flight.
            await release.Task.WaitAsync(http.RequestAborted);
            http.Response.StatusCode = 200;
        });
        await using var mesh = await Mesh.StartAsync(null, await postgres.CreateDatabaseAsync(), Mesh.Flow("orders", target.Url));
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await mesh.SendAsync($$"""{"type":"order.created","id":{{i}}}"""));
        }
        await TestTimeouts.Eventually(() => Task.FromResult(target.Requests.Count == 5), "5 attempts in flight at the first instance");

        var other = await mesh.StartAnotherEgressAsync();
        await mesh.StopEgressAsync();
        release.SetResult();

        var store = other.Services.GetRequiredService<IDeliveryStore>();
        await TestTimeouts.Eventually(async () => (await CountsAsync(other))["default/orders"][DeliveryStates.Delivered] == 5, "the other instance delivered all 5");
        foreach (var id in ids)
        {
            var delivery = (await store.GetAsync($"{id}/orders", CancellationToken.None))!;
            // The first instance's attempts were cut off by its stop and never recorded; the other's is the one in the log.
            Assert.Equal((DeliveryStates.Delivered, 1), (delivery.State, delivery.Attempts));
        }
        Assert.Equal(5, target.Requests.Select(r => r.Headers["webhook-id"]).Distinct().Count());
    }

    [PostgresFact]
    public async Task AHoldSeenByOneInstance_AndTheResumeThroughTheOther_ReachBoth()
    {
        var gone = 1;
        await using var target = await TestTarget.StartAsync((_, http) => TestTarget.Status(Interlocked.Exchange(ref gone, 0) == 1 ? 410 : 200)(0, http));
        await using var mesh = await Mesh.StartAsync(null, await postgres.CreateDatabaseAsync(), Mesh.Flow("orders", target.Url));
        var other = await mesh.StartAnotherEgressAsync();

        var first = await mesh.SendAsync();
        await TestTimeouts.Eventually(() => Task.FromResult(Held(mesh.Egress, "orders") && Held(other, "orders")), "both instances hold the flow");
        using var api = Mesh.ApiClient(other, mesh.DataDirOf(other));
        using (var resumed = await api.PostAsync("/flows/default/orders/resume", null))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }

        await TestTimeouts.Eventually(() => Task.FromResult(!Held(mesh.Egress, "orders") && !Held(other, "orders")), "neither instance holds the flow");
        var second = await mesh.SendAsync();
        await mesh.WaitForAsync(first, "orders", DeliveryStates.Delivered);
        await mesh.WaitForAsync(second, "orders", DeliveryStates.Delivered);
    }
}
