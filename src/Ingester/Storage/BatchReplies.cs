namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The answers to one committed batch, run on the writer's own thread as soon as the commit returns:
/// the waiting webhooks' continuations (their 2xx, or their 503) one after another, each as far as
/// handing its response to Kestrel. The writer is running then; a thread-pool worker had to be woken
/// for them, and that wait (70-290 us a batch, in 5 s averages) was longer than a webhook's place in line
/// here (bench/HISTORY.md, session 19). Before that, each webhook had a work item of its own, and the
/// wake-ups and context switches cost more than the answers themselves.
/// The waiters' completion sources must not run continuations asynchronously, or each would still
/// be queued on its own. And what a waiter runs must not block: it would hold up every commit after it.
/// </summary>
internal sealed class BatchReplies
{
    private readonly List<(TaskCompletionSource<StoredEvent> Waiter, StoredEvent? Stored, Exception? Error)> _replies = [];

    public void Stored(TaskCompletionSource<StoredEvent> waiter, StoredEvent stored) => _replies.Add((waiter, stored, null));

    public void Failed(TaskCompletionSource<StoredEvent> waiter, Exception error) => _replies.Add((waiter, null, error));

    /// <summary>Runs the answers in the order their events were taken; the writer's next batch starts after them.</summary>
    public void Send()
    {
        // A continuation's own failure ends in its own task (an async method's), never here, so one
        // request cannot leave the rest of its batch unanswered.
        foreach (var (waiter, stored, error) in _replies)
        {
            if (error is null)
            {
                waiter.TrySetResult(stored!);
            }
            else
            {
                waiter.TrySetException(error);
            }
        }
    }
}
