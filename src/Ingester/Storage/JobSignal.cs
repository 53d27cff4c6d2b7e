namespace ZenMesh.Ingester.Storage;

/// <summary>Wakes every waiting subscriber when jobs may have become ready; a wait also ends after its timeout, since leases run out on their own.</summary>
public sealed class JobSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Notify() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    public async Task WaitAsync(TimeSpan atMost, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await Volatile.Read(ref _next).Task.WaitAsync(atMost, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The timeout is the point: look again.
        }
    }
}
