namespace ZenMesh.Egress.Scheduling;

/// <summary>
/// A flow's concurrency: at most <see cref="Current"/> deliveries at once, where Current starts at
/// the flow's max_in_flight, halves when Envoy signals backpressure (its circuit breaker for the
/// target is open) and climbs back by one per success: the egress slows down for a struggling
/// target instead of hammering it, and only for that target.
/// </summary>
public sealed class AdaptiveLimit(int max)
{
    private readonly object _lock = new();
    private readonly Queue<TaskCompletionSource> _waiters = new();
    private int _max = Math.Max(1, max);
    private int _current = Math.Max(1, max);
    private int _inUse;

    public int Current { get { lock (_lock) { return _current; } } }

    public int Max { get { lock (_lock) { return _max; } } }

    public int InUse { get { lock (_lock) { return _inUse; } } }

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_inUse < _current)
            {
                _inUse++;
                return Task.CompletedTask;
            }
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue(waiter);
            if (cancellationToken.CanBeCanceled)
            {
                var registration = cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken));
                waiter.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
            return waiter.Task;
        }
    }

    public void Release()
    {
        lock (_lock)
        {
            _inUse--;
            Grant();
        }
    }

    public void Backoff()
    {
        lock (_lock)
        {
            _current = Math.Max(1, _current / 2);
        }
    }

    public void Succeeded()
    {
        lock (_lock)
        {
            if (_current < _max)
            {
                _current++;
                Grant();
            }
        }
    }

    /// <summary>A new max_in_flight from config; the current limit follows it down at once and climbs towards it.</summary>
    public void SetMax(int max)
    {
        lock (_lock)
        {
            _max = Math.Max(1, max);
            _current = Math.Min(_current, _max);
            Grant();
        }
    }

    private void Grant()
    {
        while (_inUse < _current && _waiters.TryDequeue(out var next))
        {
            if (next.TrySetResult())
            {
                _inUse++;
            }
        }
    }
}
