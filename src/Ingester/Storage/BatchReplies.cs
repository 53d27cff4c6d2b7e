namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The answers to one committed batch, handed to the thread pool as a single work item: the waiting
/// webhooks' continuations (their 2xx, or their 503) run inline there, one after another. One thread
/// wakes per batch instead of one per webhook; on a small, virtualised machine those wake-ups and
/// context switches cost more than the answers themselves (bench/IngesterBench prints both).
/// The waiters' completion sources must not run continuations asynchronously, or each would still
/// be queued on its own.
/// </summary>
internal sealed class BatchReplies : IThreadPoolWorkItem
{
    private readonly List<(TaskCompletionSource<StoredEvent> Waiter, StoredEvent? Stored, Exception? Error)> _replies = [];

    public void Stored(TaskCompletionSource<StoredEvent> waiter, StoredEvent stored) => _replies.Add((waiter, stored, null));

    public void Failed(TaskCompletionSource<StoredEvent> waiter, Exception error) => _replies.Add((waiter, null, error));

    /// <summary>Queues the answers; the writer goes straight on to its next batch.</summary>
    public void Send()
    {
        if (_replies.Count > 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute()
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
