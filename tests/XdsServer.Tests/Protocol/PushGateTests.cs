using ZenMesh.XdsServer.Hosting;
using ZenMesh.Xds.Protocol;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Protocol;

public sealed class PushGateTests
{
    [Fact]
    public async Task EnterAsync_PastTheLimit_WaitsUntilASlotIsReleased()
    {
        var gate = new PushGate(new XdsLimits { MaxConcurrentPushes = 2 });
        var first = await gate.EnterAsync(CancellationToken.None);
        using var second = await gate.EnterAsync(CancellationToken.None);

        var third = gate.EnterAsync(CancellationToken.None).AsTask();
        Assert.False(third.IsCompleted);

        first.Dispose();
        first.Dispose(); // releasing twice frees one slot, not two
        using var admitted = await third.WithTimeout("the waiter to get the released slot");
        Assert.Equal(0, gate.Available);
    }

    [Fact]
    public async Task EnterAsync_CancelledWaiter_DoesNotKeepTheSlotItNeverGot()
    {
        var gate = new PushGate(new XdsLimits { MaxConcurrentPushes = 1 });
        var held = await gate.EnterAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var gaveUp = gate.EnterAsync(cancel.Token).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUp.WithTimeout("the cancelled waiter"));

        held.Dispose();
        Assert.Equal(1, gate.Available);
        using var next = await gate.EnterAsync(CancellationToken.None).AsTask().WithTimeout("a free slot");
    }

    [Fact]
    public async Task EnterAsync_ManyContenders_NeverExceedTheLimit_AndAllFinish()
    {
        var gate = new PushGate(new XdsLimits { MaxConcurrentPushes = 3 });
        var inside = 0;
        var most = 0;
        var workers = Enumerable.Range(0, 200).Select(_ => Task.Run(async () =>
        {
            using var slot = await gate.EnterAsync(CancellationToken.None);
            var now = Interlocked.Increment(ref inside);
            InterlockedMax(ref most, now);
            await Task.Yield();
            Interlocked.Decrement(ref inside);
        }));
        await Task.WhenAll(workers).WithTimeout("200 contenders to pass the gate");

        Assert.InRange(most, 1, 3);
        Assert.Equal(3, gate.Available);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        for (var current = Volatile.Read(ref target); value > current; current = Volatile.Read(ref target))
        {
            if (Interlocked.CompareExchange(ref target, value, current) == current)
            {
                return;
            }
        }
    }
}
