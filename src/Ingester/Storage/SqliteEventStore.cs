using System.Collections.Immutable;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Metrics;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Events in a SQLite file in the data directory, committed with synchronous=FULL before anyone is
/// told they are stored. One writer takes whatever is waiting (up to MaxBatch) and commits it in one
/// transaction: group commit, so a burst costs one fsync, not one each. Every write (events, jobs,
/// acknowledgements, retention) goes through that writer, so nothing ever waits on SQLite's busy lock.
/// Events live in one table per UTC day, so retention drops whole tables instead of deleting rows.
/// Deduplication on the provider's id is durable (a table with an expiry) with an in-memory front.
/// </summary>
public sealed partial class SqliteEventStore : IEventStore
{
    private readonly IngesterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<SqliteEventStore> _logger;
    private readonly string _connectionString;
    private readonly Channel<Work> _queue = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly MemoryCache _recent = new(new MemoryCacheOptions { SizeLimit = 200_000 });
    private readonly JobSignal _jobsReady = new();
    private readonly Task _writer;
    private volatile ImmutableSortedSet<string> _partitions;
    private int _pending;
    private long _openJobs;
    private Statements? _statements;

    public SqliteEventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<SqliteEventStore> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        Directory.CreateDirectory(_options.DataDir);
        Location = Path.GetFullPath(Path.Combine(_options.DataDir, "events.db"));
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Location, Pooling = true }.ToString();
        using var connection = Open();
        using (var schema = connection.CreateCommand())
        {
            // AUTOINCREMENT: a job's seq is never reused, so a lease cursor never skips a new job.
            schema.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS dedup (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (tenant, endpoint, dedup_key));
                CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup (expires_at);
                CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL);
                """;
            schema.ExecuteNonQuery();
        }
        _partitions = [.. connection.Command("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'events\\_%' ESCAPE '\\'").Strings().Select(n => n["events_".Length..])];
        _openJobs = connection.Command("SELECT COUNT(*) FROM jobs").Scalar<long>();
        _writer = Task.Run(WriteLoopAsync);
    }

    public string Location { get; }

    public int Pending => Volatile.Read(ref _pending);

    public long OpenJobs => Interlocked.Read(ref _openJobs);

    public LatencyHistogram Commits { get; } = new();

    public Task<StoredEvent> AppendAsync(IncomingEvent incoming)
    {
        if (_recent.TryGetValue(DedupKey(incoming), out string? known))
        {
            return Task.FromResult(new StoredEvent(known!, Duplicate: true));
        }
        var append = new Append(incoming, new TaskCompletionSource<StoredEvent>(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite(append))
        {
            Interlocked.Decrement(ref _pending);
            append.Stored.SetException(new ObjectDisposedException(nameof(SqliteEventStore), "the event store is shutting down"));
        }
        return append.Stored.Task;
    }

    public Task WaitForJobsAsync(TimeSpan atMost, CancellationToken cancellationToken) => _jobsReady.WaitAsync(atMost, _time, cancellationToken);

    public long Count(string tenant, string endpoint)
    {
        using var connection = Open();
        return _partitions.Sum(p => connection.Command($"SELECT COUNT(*) FROM {Table(p)} WHERE tenant = @tenant AND endpoint = @endpoint").With("@tenant", tenant).With("@endpoint", endpoint).Scalar<long>());
    }

    public byte[]? Body(string eventId)
    {
        if (EventIds.PartitionOf(eventId) is not { } partition || !_partitions.Contains(partition))
        {
            return null;
        }
        using var connection = Open();
        return connection.Command($"SELECT body FROM {Table(partition)} WHERE id = @id").With("@id", eventId).ExecuteScalar() as byte[];
    }

    private static string Table(string partition) => "events_" + partition;

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        connection.Command("PRAGMA synchronous = FULL;").ExecuteNonQuery();
        return connection;
    }

    private static string DedupKey(IncomingEvent e) => $"{e.Tenant}\n{e.Endpoint}\n{e.DedupKey}";

    private async Task WriteLoopAsync()
    {
        var batch = new List<Work>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            var appended = 0;
            var started = _time.GetTimestamp();
            try
            {
                var outcomes = Commit(batch);
                if (batch.Exists(w => w is Append))
                {
                    Commits.Observe(_time.GetElapsedTime(started));
                }
                foreach (var (work, outcome) in batch.Zip(outcomes))
                {
                    switch (work)
                    {
                        case Append a:
                            appended++;
                            var stored = (StoredEvent)outcome!;
                            _recent.Set(DedupKey(a.Event), stored.Id, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1) < _options.DedupWindow ? TimeSpan.FromHours(1) : _options.DedupWindow });
                            a.Stored.TrySetResult(stored);
                            break;
                        case AckJobs ack:
                            ack.Done.TrySetResult();
                            break;
                        case Expire expire:
                            expire.Done.TrySetResult((RetentionResult)outcome!);
                            break;
                    }
                }
                _jobsReady.Notify();
            }
            catch (SqliteException e)
            {
                Log.CommitFailed(_logger, batch.Count, e.Message);
                foreach (var work in batch)
                {
                    appended += work is Append ? 1 : 0;
                    work.Fail(e);
                }
            }
            finally
            {
                Interlocked.Add(ref _pending, -appended);
            }
        }
    }

    /// <summary>One transaction for the whole batch; returns each item's outcome in order.</summary>
    private List<object?> Commit(List<Work> batch)
    {
        _statements ??= new Statements(Open());
        var st = _statements;
        var now = _time.GetUtcNow();
        st.Now.Value = now.ToString("O", CultureInfo.InvariantCulture);
        st.Expires.Value = (now + _options.DedupWindow).ToString("O", CultureInfo.InvariantCulture);
        var outcomes = new List<object?>(batch.Count);
        var inBatch = new Dictionary<string, string>(StringComparer.Ordinal);
        var partitions = _partitions;
        long jobDelta = 0;
        using var transaction = st.Connection.BeginTransaction();
        st.Enlist(transaction);
        foreach (var work in batch)
        {
            switch (work)
            {
                case Append { Event: var e }:
                    var key = DedupKey(e);
                    if (inBatch.TryGetValue(key, out var sameBatch))
                    {
                        outcomes.Add(new StoredEvent(sameBatch, Duplicate: true));
                        continue;
                    }
                    var id = EventIds.New(e.ReceivedAt);
                    (st.Tenant.Value, st.Endpoint.Value, st.Key.Value, st.Id.Value) = (e.Tenant, e.Endpoint, e.DedupKey, id);
                    // One statement claims the key (new, or its old claim expired); only a duplicate costs a second.
                    if (st.Claim.ExecuteNonQuery() == 0)
                    {
                        outcomes.Add(new StoredEvent((string)st.Find.ExecuteScalar()!, Duplicate: true));
                        continue;
                    }
                    var partition = EventIds.PartitionOf(e.ReceivedAt);
                    if (!partitions.Contains(partition))
                    {
                        st.Connection.Command($"CREATE TABLE IF NOT EXISTS {Table(partition)} (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL)", transaction).ExecuteNonQuery();
                        partitions = partitions.Add(partition);
                    }
                    var row = st.InsertInto(partition).Parameters;
                    (row[0].Value, row[1].Value, row[2].Value, row[3].Value) = (id, e.Tenant, e.Endpoint, e.DedupKey);
                    (row[4].Value, row[5].Value, row[6].Value, row[7].Value) = ((object?)e.EventType ?? DBNull.Value, e.ReceivedAt.ToString("O", CultureInfo.InvariantCulture), e.HeadersJson, e.Body);
                    st.InsertInto(partition).ExecuteNonQuery();
                    st.Partition.Value = partition;
                    foreach (var flow in e.Flows)
                    {
                        st.Flow.Value = flow;
                        st.Job.ExecuteNonQuery();
                        jobDelta++;
                    }
                    inBatch[key] = id;
                    outcomes.Add(new StoredEvent(id, Duplicate: false));
                    break;
                case AckJobs { Seqs: var seqs }:
                    foreach (var seq in seqs)
                    {
                        st.Seq.Value = seq;
                        jobDelta -= st.DeleteJob.ExecuteNonQuery();
                    }
                    outcomes.Add(null);
                    break;
                case Expire:
                    var (result, dropped) = ExpireIn(transaction, partitions, now);
                    partitions = partitions.Except(result.DroppedPartitions);
                    jobDelta -= dropped;
                    outcomes.Add(result);
                    break;
            }
        }
        transaction.Commit();
        _partitions = partitions;
        Interlocked.Add(ref _openJobs, jobDelta);
        return outcomes;
    }

    /// <summary>Work for the one writer: each item completes once its transaction has committed.</summary>
    private abstract record Work
    {
        public abstract void Fail(Exception e);
    }

    private sealed record Append(IncomingEvent Event, TaskCompletionSource<StoredEvent> Stored) : Work
    {
        public override void Fail(Exception e) => Stored.TrySetException(e);
    }

    private sealed record AckJobs(IReadOnlyList<long> Seqs, TaskCompletionSource Done) : Work
    {
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    private sealed record Expire(TaskCompletionSource<RetentionResult> Done) : Work
    {
        public override void Fail(Exception e) => Done.TrySetException(e);
    }

    private Task Enqueue(Work work, Task done)
    {
        if (!_queue.Writer.TryWrite(work))
        {
            work.Fail(new ObjectDisposedException(nameof(SqliteEventStore), "the event store is shutting down"));
        }
        return done;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        _statements?.Connection.Dispose();
        _reader?.Dispose();
        _recent.Dispose();
        _leaseLock.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "could not commit {Count} events: {Reason}; their senders get 503 and retry")]
        public static partial void CommitFailed(ILogger logger, int count, string reason);

        [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "retention: dropped partitions {Partitions} with {Jobs} open jobs, forgot {Keys} dedup keys")]
        public static partial void Expired(ILogger logger, string partitions, long jobs, long keys);
    }
}
