using System.Threading.Channels;

namespace ZenMesh.Data;

/// <summary>
/// The one single-writer loop behind every store that commits in groups (the ingester's events,
/// the egress's deliveries, the control plane's evidence ledger): callers queue work, and the loop
/// takes whatever is queued, up to a batch's worth, and commits it in one transaction, so under load
/// many callers share one fsync. Whatever one batch throws fails that batch's callers, never the loop:
/// later work is never left waiting behind a writer that stopped.
/// </summary>
/// <remarks>
/// The store says how to commit a batch (setting each item's outcome) and how to fail one; optionally
/// how to wait for work (the ingester probes a store that could not write meanwhile) and what to do
/// between batches (the ingester's behind-the-scenes writes). Neither failing nor the hooks may throw.
/// The loop has a thread of its own: it blocks on every commit's fsync by design, and on a thread-pool
/// worker that would take one of the pool's few (two, on two cores) from the requests; with two
/// such writers (the ingester's events and its dedup keys) the pool starved between its thread
/// injections, and the intake's p99 at 10,000/s went from 33 to 76 ms (bench/HISTORY.md, session 30).
/// </remarks>
public sealed class GroupCommitWriter<T> : IAsyncDisposable
{
    private readonly Channel<T> _queue = Channel.CreateUnbounded<T>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _maxBatch;
    private readonly Action<IReadOnlyList<T>> _commit;
    private readonly Action<IReadOnlyList<T>, Exception> _failed;
    private readonly Func<ChannelReader<T>, Task<bool>> _waitForWork;
    private readonly Action? _afterBatch;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="maxBatch">The most items one transaction takes.</param>
    /// <param name="commit">Commits the batch durably and sets each item's outcome; throws to fail it all.</param>
    /// <param name="failed">Tells each item of a batch that <paramref name="commit"/> threw for it.</param>
    /// <param name="waitForWork">Waits until there is work (false: no more will come); by default the queue's own wait.</param>
    /// <param name="afterBatch">Runs after each batch, once its callers have their outcome.</param>
    public GroupCommitWriter(int maxBatch, Action<IReadOnlyList<T>> commit, Action<IReadOnlyList<T>, Exception> failed, Func<ChannelReader<T>, Task<bool>>? waitForWork = null, Action? afterBatch = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _maxBatch = maxBatch;
        _commit = commit;
        _failed = failed;
        _waitForWork = waitForWork ?? (reader => reader.WaitToReadAsync().AsTask());
        _afterBatch = afterBatch;
        new Thread(Loop) { IsBackground = true, Name = $"group commit ({typeof(T).Name})" }.Start();
    }

    /// <summary>Queues <paramref name="item"/>; false once the writer is closing.</summary>
    public bool TryEnqueue(T item) => _queue.Writer.TryWrite(item);

    private void Loop()
    {
        try
        {
            Run();
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private void Run()
    {
        var batch = new List<T>(Math.Min(_maxBatch, 1024));
        // Waited for here, on the writer's thread, so every batch is committed here too.
        while (_waitForWork(_queue.Reader).GetAwaiter().GetResult())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            if (batch.Count == 0)
            {
                continue;
            }
            try
            {
                _commit(batch);
            }
            catch (Exception e)
            {
                // Any failure, not only the engine's own: see the class remarks.
                _failed(batch, e);
            }
            _afterBatch?.Invoke();
        }
    }

    /// <summary>Takes no more work, and returns once everything queued has been committed or failed.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stopped.Task.ConfigureAwait(false);
    }
}
