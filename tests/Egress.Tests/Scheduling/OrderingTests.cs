using System.Collections.Concurrent;
using System.Text.Json;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Scheduling;

/// <summary>
/// Opt-in strict order per flow and key, through a real ingester and egress: a failing event holds
/// back only later events with its key; "*" keeps the whole flow in one sequence; a dead event
/// releases its key.
/// </summary>
public sealed class OrderingTests
{
    private static (string Customer, int N) Event(string body)
    {
        var json = JsonDocument.Parse(body).RootElement;
        return (json.GetProperty("customer").GetString()!, json.GetProperty("n").GetInt32());
    }

    private static string Body(string customer, int n) => $$"""{"type":"invoice.paid","customer":"{{customer}}","n":{{n}}}""";

    [Fact]
    public async Task FailingEvent_HoldsBackOnlyLaterEventsWithItsKey()
    {
        var log = new ConcurrentQueue<(string Customer, int N, int Status)>();
        var failuresLeft = 2;
        await using var target = await TestTarget.StartAsync((_, http) =>
        {
            var (customer, n) = Event(TestTarget.BodyOf(http));
            var status = customer == "a" && n == 1 && Interlocked.Decrement(ref failuresLeft) >= 0 ? 500 : 200;
            log.Enqueue((customer, n, status));
            return TestTarget.Status(status)(0, http);
        });
        var flow = Mesh.Flow("invoices", target.Url, TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(400));
        flow.OrderingKey = "/customer";
        await using var mesh = await Mesh.StartAsync(flow);

        var ids = new List<string>();
        foreach (var (customer, n) in new[] { ("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3) })
        {
            ids.Add(await mesh.SendAsync(Body(customer, n)));
        }
        foreach (var id in ids)
        {
            await mesh.WaitForAsync(id, "invoices", DeliveryStates.Delivered);
        }

        var seen = log.ToList();
        var aDelivered = seen.FindIndex(r => r is ("a", 1, 200));
        Assert.Equal([(1, 500), (1, 500), (1, 200), (2, 200), (3, 200)], seen.Where(r => r.Customer == "a").Select(r => (r.N, r.Status)));
        Assert.Equal([1, 2], seen.Where(r => r.Customer == "b").Select(r => r.N));
        // b did not wait for a's redeliveries.
        Assert.True(seen.FindIndex(r => r is ("b", 2, 200)) < aDelivered, $"b's events came after a's first one was delivered: {string.Join(", ", seen)}");
    }

    [Fact]
    public async Task WholeFlowOrder_DeliversOneAtATime_InTheOrderReceived()
    {
        var log = new ConcurrentQueue<int>();
        var inFlight = 0;
        var overlapped = false;
        await using var target = await TestTarget.StartAsync(async (_, http) =>
        {
            if (Interlocked.Increment(ref inFlight) > 1)
            {
                overlapped = true;
            }
            var (_, n) = Event(TestTarget.BodyOf(http));
            log.Enqueue(n);
            await Task.Delay(20);
            http.Response.StatusCode = n == 2 && log.Count(x => x == 2) == 1 ? 503 : 200;
            Interlocked.Decrement(ref inFlight);
        });
        var flow = Mesh.Flow("ledger", target.Url, TimeSpan.FromMilliseconds(200));
        flow.OrderingKey = "*";
        await using var mesh = await Mesh.StartAsync(flow);

        var ids = new List<string>();
        for (var n = 1; n <= 6; n++)
        {
            ids.Add(await mesh.SendAsync(Body("any", n)));
        }
        foreach (var id in ids)
        {
            await mesh.WaitForAsync(id, "ledger", DeliveryStates.Delivered);
        }

        Assert.Equal([1, 2, 2, 3, 4, 5, 6], log);
        Assert.False(overlapped, "two deliveries of a strictly ordered flow were in flight at once");
    }

    [Fact]
    public async Task DeadEvent_ReleasesItsKey_ToTheNextOne()
    {
        await using var target = await TestTarget.StartAsync((_, http) => TestTarget.Status(Event(TestTarget.BodyOf(http)).N == 1 ? 500 : 200)(0, http));
        var flow = Mesh.ShortLived("invoices", target.Url);
        flow.OrderingKey = "/customer";
        await using var mesh = await Mesh.StartAsync(flow);

        var first = await mesh.SendAsync(Body("a", 1));
        var second = await mesh.SendAsync(Body("a", 2));

        var dead = await mesh.WaitForAsync(first, "invoices", DeliveryStates.Dead);
        var delivered = await mesh.WaitForAsync(second, "invoices", DeliveryStates.Delivered);
        Assert.Equal(1, delivered.Attempts);
        Assert.True(delivered.FirstAttemptAt >= dead.FinishedAt, $"the second event was attempted at {delivered.FirstAttemptAt:O}, before the first died at {dead.FinishedAt:O}");
    }
}
