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

    private static readonly string[] TextParameters = ["@id", "@tenant", "@endpoint", "@key", "@type", "@at", "@headers"];

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
        var now = _time.GetUtcNow();
        var nowText = now.ToString("O", CultureInfo.InvariantCulture);
        var expires = (now + _options.DedupWindow).ToString("O", CultureInfo.InvariantCulture);
        var results = new List<StoredEvent>(batch.Count);
        var inBatch = new Dictionary<string, string>(StringComparer.Ordinal);
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        using var find = connection.CreateCommand();
        find.Transaction = transaction;
        find.CommandText = "SELECT event_id FROM dedup WHERE tenant = @tenant AND endpoint = @endpoint AND dedup_key = @key AND expires_at > @now";
        var (fTenant, fEndpoint, fKey) = (find.Parameters.Add("@tenant", SqliteType.Text), find.Parameters.Add("@endpoint", SqliteType.Text), find.Parameters.Add("@key", SqliteType.Text));
        find.Parameters.AddWithValue("@now", nowText);
        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = """
            INSERT INTO events (id, tenant, endpoint, dedup_key, event_type, received_at, headers, body) VALUES (@id, @tenant, @endpoint, @key, @type, @at, @headers, @body);
            INSERT INTO dedup (tenant, endpoint, dedup_key, event_id, expires_at) VALUES (@tenant, @endpoint, @key, @id, @expires)
              ON CONFLICT (tenant, endpoint, dedup_key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at;
            """;
        var p = TextParameters.ToDictionary(n => n, n => insert.Parameters.Add(n, SqliteType.Text));
        var body = insert.Parameters.Add("@body", SqliteType.Blob);
        insert.Parameters.AddWithValue("@expires", expires);
        foreach (var (e, _) in batch)
        {
            var key = DedupKey(e);
            if (inBatch.TryGetValue(key, out var sameBatch))
            {
                results.Add(new StoredEvent(sameBatch, Duplicate: true));
                continue;
            }
            (fTenant.Value, fEndpoint.Value, fKey.Value) = (e.Tenant, e.Endpoint, e.DedupKey);
            if (find.ExecuteScalar() is string existing)
            {
                results.Add(new StoredEvent(existing, Duplicate: true));
                continue;
            }
            // Time-ordered ids: stable across redeliveries of a job, sortable in logs and queries.
            var id = "ev_" + Guid.CreateVersion7(e.ReceivedAt).ToString("N");
            (p["@id"].Value, p["@tenant"].Value, p["@endpoint"].Value, p["@key"].Value) = (id, e.Tenant, e.Endpoint, e.DedupKey);
            (p["@type"].Value, p["@at"].Value, p["@headers"].Value, body.Value) = ((object?)e.EventType ?? DBNull.Value, e.ReceivedAt.ToString("O", CultureInfo.InvariantCulture), e.HeadersJson, e.Body);
            insert.ExecuteNonQuery();
            inBatch[key] = id;
            results.Add(new StoredEvent(id, Duplicate: false));
        }
        transaction.Commit();
        return results;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        _recent.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "could not commit {Count} events: {Reason}; their senders get 503 and retry")]
        public static partial void CommitFailed(ILogger logger, int count, string reason);
    }
}
