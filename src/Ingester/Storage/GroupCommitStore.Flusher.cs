using System.Data.Common;
using System.Threading.Channels;
using Microsoft.Extensions.Caching.Memory;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The second stage of the group commit, for a store whose commit is not durable by itself: while
/// the flusher syncs batch N, the writer commits batch N+1, and hands it over once N's sync is done
/// (one sync per commit at most, so a batch still grows while the disk is busy). Only after its
/// sync are a batch's senders answered, its keys remembered in memory and its jobs handed to a
/// subscriber: a redelivery of an event still in flight waits for the same sync. A failed sync
/// leaves the disk's state unknown (Linux may even drop the failed pages), so the store then
/// refuses everything until a restart recovers what was committed, as PostgreSQL does.
/// </summary>
public abstract partial class GroupCommitStore
{
    private readonly Channel<CommittedBatch> _committed = Channel.CreateUnbounded<CommittedBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly SemaphoreSlim _syncSlot = new(1, 1);
    private volatile Exception? _broken;

    /// <summary>True when a committed transaction is durable already (the server synced it); false when <see cref="MakeDurable"/> must follow.</summary>
    protected virtual bool CommitIsDurable => true;

    /// <summary>Makes every transaction committed before the call durable (one sync), on the flusher's thread.</summary>
    protected virtual void MakeDurable()
    {
    }

    private async Task FlushLoopAsync()
    {
        var ready = new List<CommittedBatch>();
        while (await _committed.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            ready.Clear();
            while (_committed.Reader.TryRead(out var batch))
            {
                ready.Add(batch);
            }
            var failure = _broken;
            if (failure is null)
            {
                try
                {
                    MakeDurable();
                }
                catch (Exception e) when (e is IOException or DbException or UnauthorizedAccessException)
                {
                    failure = _broken = new IOException($"the disk did not confirm the event store's writes ({e.Message}); this ingester accepts nothing more until it is restarted, which recovers every event it answered 2xx for", e);
                    Log.SyncFailed(Logger, e.Message);
                }
            }
            foreach (var batch in ready)
            {
                Settle(batch, failure);
            }
            _syncSlot.Release(ready.Count);
        }
    }

    /// <summary>Answers a batch's senders and completes its other work: stored, or <paramref name="failure"/>.</summary>
    private void Settle(CommittedBatch batch, Exception? failure)
    {
        var replies = new BatchReplies();
        var appended = 0;
        foreach (var (work, outcome) in batch.Items)
        {
            switch (work)
            {
                case Append a:
                    appended++;
                    if (failure is null)
                    {
                        var stored = (StoredEvent)outcome!;
                        _recent.Set(a.Key, stored.Id, _remember);
                        replies.Stored(a.Stored, stored);
                    }
                    else
                    {
                        replies.Failed(a.Stored, failure);
                    }
                    break;
                case var _ when failure is not null:
                    work.Fail(failure);
                    break;
                case AckJobs ack:
                    ack.Done.TrySetResult();
                    break;
                case Expire expire:
                    expire.Done.TrySetResult((RetentionResult)outcome!);
                    break;
            }
        }
        if (failure is null)
        {
            if (appended > 0)
            {
                Commits.Observe(Time.GetElapsedTime(batch.Started));
            }
            JobsReady.Notify();
        }
        Interlocked.Add(ref _pending, -appended);
        replies.Send();
    }

    /// <summary>A batch the writer is done with, each item with its outcome (null when it failed as a whole).</summary>
    private sealed class CommittedBatch(long started)
    {
        public long Started { get; } = started;

        public List<(Work Work, object? Outcome)> Items { get; } = [];

        public void Add(List<Work> batch, List<object?>? outcomes)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                Items.Add((batch[i], outcomes?[i]));
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3102, Level = LogLevel.Critical, Message = "the event store's sync to disk failed: {Reason}; every webhook gets 503 until the ingester is restarted")]
        public static partial void SyncFailed(ILogger logger, string reason);
    }
}
