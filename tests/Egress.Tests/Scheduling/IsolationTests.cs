using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Scheduling;

/// <summary>
/// Each flow has its own lane: a target that takes seconds per request fills only its own
/// concurrency, and the other flow's deliveries go on at their own pace. Due times live in the
/// store, so deliveries waiting when the egress stops are made after it starts again, with the
/// same webhook-id.
/// </summary>
public sealed class IsolationTests
{
    [Fact]
    public async Task SlowTarget_DoesNotDelayAnotherFlow()
    {
        using var release = new CancellationTokenSource();
        await using var slow = await TestTarget.StartAsync(async (_, http) => await Task.Delay(TimeSpan.FromSeconds(30), release.Token).ContinueWith(_ => { }));
        await using var fast = await TestTarget.StartAsync(TestTarget.Status(200));
        var stuck = Mesh.Flow("to-slow", slow.Url);
        stuck.MaxInFlight = 2;
        await using var mesh = await Mesh.StartAsync(stuck, Mesh.Flow("to-fast", fast.Url));

        var ids = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await mesh.SendAsync($$"""{"type":"t","n":{{i}}}"""));
        }
        foreach (var id in ids)
        {
            await mesh.WaitForAsync(id, "to-fast", DeliveryStates.Delivered, TimeSpan.FromSeconds(10));
        }

        Assert.Equal(20, fast.Requests.Count);
        Assert.Equal(2, slow.Requests.Count);
        var pendingSlow = await mesh.GetJsonAsync("/deliveries?flow=to-slow&state=pending");
        Assert.Equal(20, pendingSlow.GetProperty("deliveries").GetArrayLength());
        await release.CancelAsync();
    }

    [Fact]
    public async Task PendingDeliveries_SurviveARestart_AndKeepTheirWebhookId()
    {
        var up = false;
        await using var target = await TestTarget.StartAsync((_, http) => TestTarget.Status(Volatile.Read(ref up) ? 200 : 503)(0, http));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("to-later", target.Url, TimeSpan.FromMilliseconds(300)));

        var eventId = await mesh.SendAsync();
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{eventId}/to-later", CancellationToken.None))?.Attempts >= 1, "the first attempt failed");
        await mesh.StopEgressAsync();
        Volatile.Write(ref up, true);
        await mesh.StartEgressAsync();

        var delivered = await mesh.WaitForAsync(eventId, "to-later", DeliveryStates.Delivered);
        Assert.True(delivered.Attempts >= 2);
        Assert.All(target.Requests, r => Assert.Equal($"{eventId}/to-later", r.Headers["webhook-id"]));
        Assert.Equal(200, delivered.LastStatus);
    }
}
