using System.Collections.Concurrent;

namespace ZenMesh.Xds.Protocol;

/// <summary>
/// Bounds how many responses are built and written at once across all streams, so that thousands
/// of clients reconnecting together queue for the CPU instead of thrashing it. Taking a free slot is
/// lock-free (thousands of streams pass here on every change); only waiting takes a lock.
/// </summary>
public sealed class PushGate(XdsLimits limits)
{
    private readonly object _waitLock = new();
    private readonly ConcurrentQueue<TaskCompletionSource<IDisposable>> _waiters = new();
    private int _available = limits.MaxConcurrentPushes;

    public int Available => Volatile.Read(ref _available);

    public ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        for (var free = Volatile.Read(ref _available); free > 0; free = Volatile.Read(ref _available))
        {
            if (Interlocked.CompareExchange(ref _available, free - 1, free) == free)
            {
                return ValueTask.FromResult<IDisposable>(new Slot(this));
            }
        }
        return new ValueTask<IDisposable>(WaitAsync(cancellationToken));
    }

    private async Task<IDisposable> WaitAsync(CancellationToken cancellationToken)
    {
        var waiter = new TaskCompletionSource<IDisposable>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waitLock)
        {
            _waiters.Enqueue(waiter);
            // A slot freed between the fast path and the enqueue must not be missed.
            HandOff();
        }
        await using (cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken)).ConfigureAwait(false))
        {
            return await waiter.Task.ConfigureAwait(false);
        }
    }

    private void Release()
    {
        Interlocked.Increment(ref _available);
        if (!_waiters.IsEmpty)
        {
            lock (_waitLock)
            {
                HandOff();
            }
        }
    }

    /// <summary>Under the wait lock: gives free slots to waiters, skipping the ones that gave up.</summary>
    private void HandOff()
    {
        while (_waiters.TryPeek(out _))
        {
            var free = Volatile.Read(ref _available);
            if (free <= 0 || Interlocked.CompareExchange(ref _available, free - 1, free) != free)
            {
                if (free <= 0)
                {
                    return;
                }
                continue;
            }
            _waiters.TryDequeue(out var waiter);
            if (!waiter!.TrySetResult(new Slot(this)))
            {
                Interlocked.Increment(ref _available);
            }
        }
    }

    private sealed class Slot(PushGate gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
