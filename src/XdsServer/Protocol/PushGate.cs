using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Protocol;

/// <summary>
/// Bounds how many responses are built and written at once across all streams, so that thousands
/// of clients reconnecting together queue for the CPU instead of thrashing it.
/// </summary>
public sealed class PushGate(XdsLimits limits) : IDisposable
{
    private readonly SemaphoreSlim _slots = new(limits.MaxConcurrentPushes, limits.MaxConcurrentPushes);

    public async ValueTask<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Slot(_slots);
    }

    public void Dispose() => _slots.Dispose();

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                slots.Release();
            }
        }
    }
}
