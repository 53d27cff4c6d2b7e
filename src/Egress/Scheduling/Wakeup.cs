namespace ZenMesh.Egress.Scheduling;

/// <summary>A wake-up call that is not lost when nobody waits yet: the next wait returns at once.</summary>
public sealed class Wakeup
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Set() => Volatile.Read(ref _next).TrySetResult();

    /// <summary>Returns when woken or after <paramref name="atMost"/>.</summary>
    public async Task WaitAsync(TimeSpan atMost, TimeProvider time, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _next);
        try
        {
            await current.Task.WaitAsync(atMost > TimeSpan.Zero ? atMost : TimeSpan.Zero, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        if (current.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), current);
        }
    }
}
