using System.Globalization;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Events in a SQLite file in the data directory, committed with synchronous=FULL before anyone is
/// told they are stored. One writer takes whatever is waiting (up to MaxBatch) and commits it in one
/// transaction: group commit, so a burst costs one fsync, not one each. Deduplication on the
/// provider's id is durable (a table with an expiry) with an in-memory front for the common case.
/// </summary>
public sealed partial class EventStore : IAsyncDisposable
{
    private readonly IngesterOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<EventStore> _logger;
    private readonly string _connectionString;
    private readonly Channel<(IncomingEvent Event, TaskCompletionSource<StoredEvent> Stored)> _queue = Channel.CreateUnbounded<(IncomingEvent, TaskCompletionSource<StoredEvent>)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly MemoryCache _recent = new(new MemoryCacheOptions { SizeLimit = 200_000 });
    private readonly Task _writer;
    private int _pending;
    private Statements? _statements;


    public EventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<EventStore> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        Directory.CreateDirectory(_options.DataDir);
        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(_options.DataDir, "events.db"));
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true }.ToString();
        using (var connection = Open())
        using (var schema = connection.CreateCommand())
        {
            schema.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL);
                CREATE TABLE IF NOT EXISTS dedup (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TEXT NOT NULL, PRIMARY KEY (tenant, endpoint, dedup_key));
                """;
            schema.ExecuteNonQuery();
        }
        _writer = Task.Run(WriteLoopAsync);
    }

    public string Path { get; }

    /// <summary>Events handed over and not yet committed: what backpressure is measured by.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>Completes once the event is durably stored (or found to be a redelivery of one that is).</summary>
    public Task<StoredEvent> AppendAsync(IncomingEvent incoming)
    {
        if (_recent.TryGetValue(DedupKey(incoming), out string? known))
        {
            return Task.FromResult(new StoredEvent(known!, Duplicate: true));
        }
        var stored = new TaskCompletionSource<StoredEvent>(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite((incoming, stored)))
        {
            Interlocked.Decrement(ref _pending);
            stored.SetException(new ObjectDisposedException(nameof(EventStore), "the event store is shutting down"));
        }
        return stored.Task;
    }

    /// <summary>How many events are stored for an endpoint (status, tests).</summary>
    public long Count(string tenant, string endpoint)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM events WHERE tenant = @tenant AND endpoint = @endpoint";
        command.Parameters.AddWithValue("@tenant", tenant);
        command.Parameters.AddWithValue("@endpoint", endpoint);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>The stored body of an event, or null.</summary>
    public byte[]? Body(string id)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM events WHERE id = @id";
        command.Parameters.AddWithValue("@id", id);
        return command.ExecuteScalar() as byte[];
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = FULL;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private static string DedupKey(IncomingEvent e) => $"{e.Tenant}\n{e.Endpoint}\n{e.DedupKey}";

    private async Task WriteLoopAsync()
    {
        var batch = new List<(IncomingEvent Event, TaskCompletionSource<StoredEvent> Stored)>();
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }
            try
            {
                var results = Commit(batch);
                for (var i = 0; i < batch.Count; i++)
                {
                    _recent.Set(DedupKey(batch[i].Event), results[i].Id, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromHours(1) < _options.DedupWindow ? TimeSpan.FromHours(1) : _options.DedupWindow });
                    batch[i].Stored.TrySetResult(results[i]);
                }
            }
            catch (SqliteException e)
            {
                Log.CommitFailed(_logger, batch.Count, e.Message);
                batch.ForEach(b => b.Stored.TrySetException(e));
            }
            finally
            {
                Interlocked.Add(ref _pending, -batch.Count);
            }
        }
    }

    private List<StoredEvent> Commit(List<(IncomingEvent Event, TaskCompletionSource<StoredEvent> Stored)> batch)
    {
        _statements ??= new Statements(Open());
        var st = _statements;
        var now = _time.GetUtcNow();
        st.Now.Value = now.ToString("O", CultureInfo.InvariantCulture);
        st.Expires.Value = (now + _options.DedupWindow).ToString("O", CultureInfo.InvariantCulture);
        var results = new List<StoredEvent>(batch.Count);
        var inBatch = new Dictionary<string, string>(StringComparer.Ordinal);
        using var transaction = st.Connection.BeginTransaction();
        st.Claim.Transaction = st.Find.Transaction = st.Insert.Transaction = transaction;
        foreach (var (e, _) in batch)
        {
            var key = DedupKey(e);
            if (inBatch.TryGetValue(key, out var sameBatch))
            {
                results.Add(new StoredEvent(sameBatch, Duplicate: true));
                continue;
            }
            // Time-ordered ids: stable across redeliveries of a job, sortable in logs and queries.
            var id = "ev_" + Guid.CreateVersion7(e.ReceivedAt).ToString("N");
            (st.Tenant.Value, st.Endpoint.Value, st.Key.Value, st.Id.Value) = (e.Tenant, e.Endpoint, e.DedupKey, id);
            // One statement claims the key (new, or its old claim expired); only a duplicate costs a second.
            if (st.Claim.ExecuteNonQuery() == 0)
            {
                results.Add(new StoredEvent((string)st.Find.ExecuteScalar()!, Duplicate: true));
                continue;
            }
            (st.Type.Value, st.At.Value, st.Headers.Value, st.Body.Value) = ((object?)e.EventType ?? DBNull.Value, e.ReceivedAt.ToString("O", CultureInfo.InvariantCulture), e.HeadersJson, e.Body);
            st.Insert.ExecuteNonQuery();
            inBatch[key] = id;
            results.Add(new StoredEvent(id, Duplicate: false));
        }
        transaction.Commit();
        return results;
    }

    /// <summary>The writer's own connection and statements, prepared once: a batch only binds and steps them.</summary>
    private sealed class Statements
    {
        public Statements(SqliteConnection connection)
        {
            Connection = connection;
            Claim = connection.CreateCommand();
            Claim.CommandText = """
                INSERT INTO dedup (tenant, endpoint, dedup_key, event_id, expires_at) VALUES (@tenant, @endpoint, @key, @id, @expires)
                ON CONFLICT (tenant, endpoint, dedup_key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at WHERE dedup.expires_at <= @now
                """;
            Find = connection.CreateCommand();
            Find.CommandText = "SELECT event_id FROM dedup WHERE tenant = @tenant AND endpoint = @endpoint AND dedup_key = @key";
            Insert = connection.CreateCommand();
            Insert.CommandText = "INSERT INTO events (id, tenant, endpoint, dedup_key, event_type, received_at, headers, body) VALUES (@id, @tenant, @endpoint, @key, @type, @at, @headers, @body)";
            Tenant = Shared("@tenant");
            Endpoint = Shared("@endpoint");
            Key = Shared("@key");
            Id = new SharedParameter([Claim.Parameters.Add("@id", SqliteType.Text), Insert.Parameters.Add("@id", SqliteType.Text)]);
            Expires = Claim.Parameters.Add("@expires", SqliteType.Text);
            Now = Claim.Parameters.Add("@now", SqliteType.Text);
            Type = Insert.Parameters.Add("@type", SqliteType.Text);
            At = Insert.Parameters.Add("@at", SqliteType.Text);
            Headers = Insert.Parameters.Add("@headers", SqliteType.Text);
            Body = Insert.Parameters.Add("@body", SqliteType.Blob);
        }

        public SqliteConnection Connection { get; }
        public SqliteCommand Claim { get; }
        public SqliteCommand Find { get; }
        public SqliteCommand Insert { get; }
        public SharedParameter Tenant { get; }
        public SharedParameter Endpoint { get; }
        public SharedParameter Key { get; }
        public SharedParameter Id { get; }
        public SqliteParameter Expires { get; }
        public SqliteParameter Now { get; }
        public SqliteParameter Type { get; }
        public SqliteParameter At { get; }
        public SqliteParameter Headers { get; }
        public SqliteParameter Body { get; }

        private SharedParameter Shared(string name) => new([Claim.Parameters.Add(name, SqliteType.Text), Find.Parameters.Add(name, SqliteType.Text), Insert.Parameters.Add(name, SqliteType.Text)]);
    }

    /// <summary>One value bound to the same-named parameter of several statements.</summary>
    private sealed class SharedParameter(SqliteParameter[] parameters)
    {
        public object? Value
        {
            set
            {
                foreach (var p in parameters)
                {
                    p.Value = value;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        _statements?.Connection.Dispose();
        _recent.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "could not commit {Count} events: {Reason}; their senders get 503 and retry")]
        public static partial void CommitFailed(ILogger logger, int count, string reason);
    }
}
