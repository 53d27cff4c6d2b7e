using System.Threading.Channels;
using Microsoft.Extensions.Caching.Memory;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Metrics;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// What every event store shares: one writer takes whatever is waiting (up to MaxBatch) and commits
/// it in one transaction, so a burst costs one fsync, not one each, and a webhook is answered only
/// once its transaction has committed. Every write (events, jobs, acknowledgements, retention) goes
/// through that writer. A redelivery, once answered, is answered again from memory without a round
/// trip (a provider retrying a batch over and over costs the writer nothing). New events are not
/// remembered there: an entry per event was what most of each GC had to keep, and made the p99.
/// Whatever one batch throws fails that batch's callers alone (as <see cref="StoreUnavailableException"/>)
/// and marks the store unwritable; the writer then probes until a write commits again.
/// </summary>
public abstract partial class GroupCommitStore : IEventStore
{
    // Once full, a compaction sorts every entry to find the least recently used; a quarter at a time
    // (not the default 5%) keeps that sort off the hot path for most of the time.
    private readonly MemoryCache _recent = new(new MemoryCacheOptions { SizeLimit = 200_000, CompactionPercentage = 0.25 });
    private GroupCommitWriter<Work>? _writer;
    private readonly MemoryCacheEntryOptions _remember;
    private int _pending;
    private long _openJobs;
    private volatile StoreHealth _health = StoreHealth.Ok;

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

    public StoreHealth Health => _health;

    /// <summary>How often an unwritable store tries a write of its own to learn whether it can write again.</summary>
    private TimeSpan ProbeInterval => Options.StoreProbeInterval;

    /// <summary>Called by the derived store once its schema is ready.</summary>
    protected void StartWriter(long openJobs)
    {
        _openJobs = openJobs;
        _writer = new GroupCommitWriter<Work>(Options.MaxBatch, CommitBatch, FailBatch, NextBatchAsync, AfterBatch);
    }

    protected void AddOpenJobs(long delta) => Interlocked.Add(ref _openJobs, delta);

    public Task<StoredEvent> AppendAsync(IncomingEvent incoming)
    {
        // Hashed here, on the request's thread, not on the one writer every event waits for.
        var key = DedupHash.Of(incoming.Tenant, incoming.Endpoint, incoming.DedupKey);
        // The memory's own expiry runs on the machine's clock; the window is judged on the injected one, as the store judges it.
        if (_recent.TryGetValue(key, out string? known) && EventIds.UuidOf(known!) is { } uuid && EventIds.TimeOf(uuid) + Options.DedupWindow > Time.GetUtcNow())
        {
            return Task.FromResult(new StoredEvent(known!, Duplicate: true));
        }
        // Continuations run where the result is set: on the writer, right after the commit (BatchReplies).
        var append = new Append(incoming, key);
        Interlocked.Increment(ref _pending);
        if (_writer?.TryEnqueue(append) != true)
        {
            Interlocked.Decrement(ref _pending);
            return Task.FromException<StoredEvent>(new StoreUnavailableException("the event store is shutting down"));
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
        await BeforeExpireAsync(cancellationToken).ConfigureAwait(false);
        var expire = new Expire();
        var result = await Enqueue(expire, expire.Done.Task).WaitAsync(cancellationToken).ConfigureAwait(false);
        result = await OnExpiredAsync(result, cancellationToken).ConfigureAwait(false);
        if ((result.DroppedPartitions.Count > 0 || result.ForgottenKeys > 0) && Logger.IsEnabled(LogLevel.Information))
        {
            var partitions = string.Join(", ", result.DroppedPartitions);
            Log.Expired(Logger, partitions, result.DroppedJobs, result.ForgottenKeys);
        }
        return result;
    }

    /// <summary>Before retention drops anything: make sure nothing it drops is the last copy of something still needed.</summary>
    protected virtual Task BeforeExpireAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After retention committed: forget in-memory state about what it dropped; the result, with anything dropped elsewhere.</summary>
    protected virtual Task<RetentionResult> OnExpiredAsync(RetentionResult result, CancellationToken cancellationToken) => Task.FromResult(result);

    /// <summary>
    /// One transaction for the whole batch, durable when it returns: sets each <see cref="Append"/>'s
    /// and <see cref="Expire"/>'s outcome. Whatever it throws, nothing of the batch may be kept.
    /// </summary>
    protected abstract void Commit(IReadOnlyList<Work> batch);

    /// <summary>A durable write of nothing in particular: succeeds once the store can write again.</summary>
    protected abstract void Probe();

    protected static string DedupKey(IncomingEvent e) => $"{e.Tenant}\n{e.Endpoint}\n{e.DedupKey}";

    /// <summary>A batch committed: each caller gets its outcome (duplicates are remembered for the next redelivery).</summary>
    private void CommitBatch(IReadOnlyList<Work> batch)
    {
        var replies = new BatchReplies();
        var started = Time.GetTimestamp();
        Commit(batch);
        Writable();
        // Commits that stored an event: one that only found duplicates wrote nothing.
        if (batch.Any(w => w is Append { Outcome.Duplicate: false }))
        {
            Commits.Observe(Time.GetElapsedTime(started));
        }
        foreach (var work in batch)
        {
            switch (work)
            {
                case Append a:
                    var stored = a.Outcome ?? throw new InvalidOperationException($"{GetType().Name}.Commit left an event without an outcome");
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
                    expire.Done.TrySetResult(expire.Outcome ?? throw new InvalidOperationException($"{GetType().Name}.Commit left retention without an outcome"));
                    break;
            }
        }
        JobsReady.Notify();
        Interlocked.Add(ref _pending, -batch.Count(w => w is Append));
        replies.Send();
    }

    /// <summary>
    /// A batch failed, whatever the reason (a writer that stopped here would leave every later
    /// webhook waiting while /healthz still said ok): each caller is told the store is unavailable.
    /// </summary>
    private void FailBatch(IReadOnlyList<Work> batch, Exception e)
    {
        var unavailable = Unwritable(e);
        var replies = new BatchReplies();
        foreach (var work in batch)
        {
            if (work is Append a)
            {
                replies.Failed(a.Stored, unavailable);
            }
            else
            {
                work.Fail(unavailable);
            }
        }
        Interlocked.Add(ref _pending, -batch.Count(w => w is Append));
        replies.Send();
    }

    private void AfterBatch()
    {
        if (!_health.Writable)
        {
            return;
        }
        try
        {
            Maintain();
        }
        catch (Exception e)
        {
            // Nothing answered depends on it; it is tried again after the next batch.
            Log.MaintenanceFailed(Logger, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>
    /// Work the store may do on the writer between batches, once the waiting webhooks have their
    /// answers.
    /// </summary>
    protected virtual void Maintain()
    {
    }

    /// <summary>
    /// Waits for work; while the store is unwritable, probes it every <see cref="ProbeInterval"/>
    /// meanwhile, so it says it is writable again (and /healthz recovers) without a webhook to try.
    /// </summary>
    private async Task<bool> NextBatchAsync(ChannelReader<Work> queue)
    {
        // One wait for the whole spell: a single-reader channel takes one waiter at a time.
        Task<bool>? waiting = null;
        while (!_health.Writable)
        {
            waiting ??= queue.WaitToReadAsync().AsTask();
            var next = await Task.WhenAny(waiting, Task.Delay(ProbeInterval, Time)).ConfigureAwait(false);
            if (next == waiting)
            {
                return await waiting.ConfigureAwait(false);
            }
            try
            {
                Probe();
                Writable();
            }
            catch (Exception e)
            {
                Unwritable(e);
            }
        }
        return waiting is null ? await queue.WaitToReadAsync().ConfigureAwait(false) : await waiting.ConfigureAwait(false);
    }

    private void Writable()
    {
        if (!_health.Writable)
        {
            Log.Writable(Logger, _health.Problem);
            _health = StoreHealth.Ok;
        }
    }

    private StoreUnavailableException Unwritable(Exception e)
    {
        var reason = e is StoreUnavailableException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        if (_health.Writable || _health.Problem != reason)
        {
            Log.CommitFailed(Logger, reason, e);
        }
        _health = new StoreHealth(false, reason, _health.Since ?? Time.GetUtcNow());
        return e as StoreUnavailableException ?? new StoreUnavailableException($"the event store could not commit: {reason}", e);
    }

    /// <summary>Work for the one writer: each item completes once its transaction has committed.</summary>
    protected abstract class Work
    {
        public abstract void Fail(Exception e);
    }

    /// <summary>An event to store; <see cref="Key"/> is its <see cref="DedupHash"/>, made once. <see cref="Commit"/> sets <see cref="Outcome"/>.</summary>
    protected sealed class Append(IncomingEvent incoming, UInt128 key) : Work
    {
        public IncomingEvent Event { get; } = incoming;

        public UInt128 Key { get; } = key;

        public TaskCompletionSource<StoredEvent> Stored { get; } = new();

        public StoredEvent? Outcome { get; set; }

        public override void Fail(Exception e) => Stored.TrySetException(e);
    }

    /// <summary>Jobs to end, by their seq in the store.</summary>
    protected sealed class AckJobs(IReadOnlyList<long> seqs) : Work
    {
        public IReadOnlyList<long> Seqs { get; } = seqs;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    /// <summary>A retention pass. <see cref="Commit"/> sets <see cref="Outcome"/>.</summary>
    protected sealed class Expire : Work
    {
        public TaskCompletionSource<RetentionResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public RetentionResult? Outcome { get; set; }

        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    protected Task<T> Enqueue<T>(Work work, Task<T> done)
    {
        Enqueue(work, (Task)done);
        return done;
    }

    protected Task Enqueue(Work work, Task done)
    {
        if (_writer?.TryEnqueue(work) != true)
        {
            work.Fail(new StoreUnavailableException("the event store is shutting down"));
        }
        return done;
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        await DisposeStoreAsync().ConfigureAwait(false);
        _recent.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the derived store's connections, after the writer has finished.</summary>
    protected abstract ValueTask DisposeStoreAsync();

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "the event store cannot write: {Reason}; webhooks get 503 with Retry-After (nothing is accepted), /healthz says so, and the store is probed until it can write again")]
        public static partial void CommitFailed(ILogger logger, string reason, Exception exception);

        [LoggerMessage(EventId = 3104, Level = LogLevel.Warning, Message = "the event store's upkeep between batches failed: {Reason}; tried again after the next batch")]
        public static partial void MaintenanceFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 3103, Level = LogLevel.Warning, Message = "the event store can write again (it could not: {Reason})")]
        public static partial void Writable(ILogger logger, string? reason);

        [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "retention: dropped partitions {Partitions} with {Jobs} open jobs, forgot {Keys} dedup keys")]
        public static partial void Expired(ILogger logger, string partitions, long jobs, long keys);
    }
}
