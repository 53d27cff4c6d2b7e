using System.Data.Common;
using System.Threading.Channels;
using Microsoft.Extensions.Caching.Memory;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage.Dedup;
using ZenMesh.Metrics;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// What every event store shares: one writer takes whatever is waiting (up to MaxBatch) and commits
/// it in one transaction, so a burst costs one fsync, not one each, and a webhook is answered only
/// once its transaction has committed. Every write (events, jobs, acknowledgements, retention) goes
/// through that writer. A redelivery, once answered, is answered again from memory without a round
/// trip (a provider retrying a batch over and over costs the writer nothing). New events are not
/// remembered there: an entry per event was what most of each GC had to keep, and made the p99.
/// </summary>
public abstract partial class GroupCommitStore : IEventStore
{
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    // Once full, a compaction sorts every entry to find the least recently used; a quarter at a time
    // (not the default 5%) keeps that sort off the hot path for most of the time.
    private readonly MemoryCache _recent = new(new MemoryCacheOptions { SizeLimit = 200_000, CompactionPercentage = 0.25 });
    private Task _writer = Task.CompletedTask;
    private readonly MemoryCacheEntryOptions _remember;
    private int _pending;
    private long _openJobs;

    protected GroupCommitStore(IngesterOptions options, TimeProvider time, ILogger logger)
    {
        Options = options;
        // An hour of redeliveries answered from memory, or the whole window when that is shorter.
        _remember = new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1) < options.DedupWindow ? TimeSpan.FromHours(1) : options.DedupWindow };
        Time = time;
        Logger = logger;
    }

    protected IngesterOptions Options { get; }

    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    protected JobSignal JobsReady { get; } = new();

    /// <summary>Where the writer gets each new event's UUID.</summary>
    protected EventUuids Uuids { get; } = new();

    public abstract string Location { get; }

    public int Pending => Volatile.Read(ref _pending);

    public virtual long OpenJobs => Interlocked.Read(ref _openJobs);

    public LatencyHistogram Commits { get; } = new();

    /// <summary>Called by the derived store once its schema is ready.</summary>
    protected void StartWriter(long openJobs)
    {
        _openJobs = openJobs;
        _writer = Task.Run(WriteLoopAsync);
    }

    protected void AddOpenJobs(long delta) => Interlocked.Add(ref _openJobs, delta);

    public Task<StoredEvent> AppendAsync(IncomingEvent incoming)
    {
        // Hashed here, on the request's thread, not on the one writer every event waits for.
        var key = DedupHash.Of(incoming.Tenant, incoming.Endpoint, incoming.DedupKey);
        if (_recent.TryGetValue(key, out string? known))
        {
            return Task.FromResult(new StoredEvent(known!, Duplicate: true));
        }
        // Continuations run where the result is set: on the writer, right after the commit (BatchReplies).
        var append = new Append(incoming, key, new TaskCompletionSource<StoredEvent>());
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(append))
        {
            Interlocked.Decrement(ref _pending);
            return Task.FromException<StoredEvent>(new ObjectDisposedException(GetType().Name, "the event store is shutting down"));
        }
        return append.Stored.Task;
    }

    public Task WaitForJobsAsync(TimeSpan atMost, CancellationToken cancellationToken) => JobsReady.WaitAsync(atMost, Time, cancellationToken);

    public abstract Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken);

    public abstract Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken);

    public abstract Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken);

    public abstract long Count(string tenant, string endpoint);

    public abstract byte[]? Body(string eventId);

    public async Task<RetentionResult> ExpireAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<RetentionResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var result = await Enqueue(new Expire(done), done.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        await OnExpiredAsync(result, cancellationToken).ConfigureAwait(false);
        if ((result.DroppedPartitions.Count > 0 || result.ForgottenKeys > 0) && Logger.IsEnabled(LogLevel.Information))
        {
            var partitions = string.Join(", ", result.DroppedPartitions);
            Log.Expired(Logger, partitions, result.DroppedJobs, result.ForgottenKeys);
        }
        return result;
    }

    /// <summary>After retention committed: forget in-memory state about what it dropped.</summary>
    protected virtual Task OnExpiredAsync(RetentionResult result, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>One transaction for the whole batch; returns each item's outcome in order (StoredEvent, RetentionResult or null).</summary>
    protected abstract List<object?> Commit(List<Work> batch);

    protected static string DedupKey(IncomingEvent e) => $"{e.Tenant}\n{e.Endpoint}\n{e.DedupKey}";

    private async Task WriteLoopAsync()
    {
        var batch = new List<Work>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < Options.MaxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            var appended = 0;
            var replies = new BatchReplies();
            var started = Time.GetTimestamp();
            try
            {
                var outcomes = Commit(batch);
                // Commits that stored an event: one that only found duplicates wrote nothing.
                if (outcomes.Exists(o => o is StoredEvent { Duplicate: false }))
                {
                    Commits.Observe(Time.GetElapsedTime(started));
                }
                foreach (var (work, outcome) in batch.Zip(outcomes))
                {
                    switch (work)
                    {
                        case Append a:
                            appended++;
                            var stored = (StoredEvent)outcome!;
                            if (stored.Duplicate)
                            {
                                _recent.Set(a.Key, stored.Id, _remember);
                            }
                            replies.Stored(a.Stored, stored);
                            break;
                        case AckJobs ack:
                            ack.Done.TrySetResult();
                            break;
                        case Expire expire:
                            expire.Done.TrySetResult((RetentionResult)outcome!);
                            break;
                    }
                }
                JobsReady.Notify();
            }
            catch (Exception e) when (e is DbException or IOException)
            {
                Log.CommitFailed(Logger, batch.Count, e.Message);
                foreach (var work in batch)
                {
                    if (work is Append a)
                    {
                        appended++;
                        replies.Failed(a.Stored, e);
                    }
                    else
                    {
                        work.Fail(e);
                    }
                }
            }
            finally
            {
                Interlocked.Add(ref _pending, -appended);
                replies.Send();
            }
        }
    }

    /// <summary>Work for the one writer: each item completes once its transaction has committed.</summary>
    protected abstract record Work
    {
        public abstract void Fail(Exception e);
    }

    /// <summary>An event to store; <paramref name="Key"/> is its <see cref="DedupHash"/>, made once.</summary>
    protected sealed record Append(IncomingEvent Event, UInt128 Key, TaskCompletionSource<StoredEvent> Stored) : Work
    {
        public override void Fail(Exception e) => Stored.TrySetException(e);
    }

    /// <summary>Jobs to end, as the store knows them (a seq, an "event/flow" id, or the open job itself).</summary>
    protected sealed record AckJobs(IReadOnlyList<object> Keys, TaskCompletionSource Done) : Work
    {
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    protected sealed record Expire(TaskCompletionSource<RetentionResult> Done) : Work
    {
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    protected Task<T> Enqueue<T>(Work work, Task<T> done)
    {
        Enqueue(work, (Task)done);
        return done;
    }

    protected Task Enqueue(Work work, Task done)
    {
        if (!_queue.Writer.TryWrite(work))
        {
            work.Fail(new ObjectDisposedException(GetType().Name, "the event store is shutting down"));
        }
        return done;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await DisposeStoreAsync().ConfigureAwait(false);
        _recent.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the derived store's connections, after the writer has finished.</summary>
    protected abstract ValueTask DisposeStoreAsync();

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "could not commit {Count} events: {Reason}; their senders get 503 and retry")]
        public static partial void CommitFailed(ILogger logger, int count, string reason);

        [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "retention: dropped partitions {Partitions} with {Jobs} open jobs, forgot {Keys} dedup keys")]
        public static partial void Expired(ILogger logger, string partitions, long jobs, long keys);
    }
}
