using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Replays;
using static ZenMesh.Egress.Storage.DeliveryRows;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// Deliveries in a SQLite file in the data directory (WAL, synchronous=FULL: a job is on disk
/// before the ingester hears it was taken). One connection writes, under a lock; reads open their
/// own. Times are Unix milliseconds so the due-time index orders them as numbers.
/// </summary>
public sealed class SqliteDeliveryStore : IDeliveryStore
{
    private static readonly string[] ColumnsAdded = ["replay_id", "replay_prior", "ordering_key"];
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    /// <summary>Most writes committed in one transaction (one fsync).</summary>
    private const int MostPerCommit = 256;

    private readonly GroupCommitWriter<Write> _writes;

    private sealed record Write(Func<DbTransaction, object?> Work, TaskCompletionSource<object?> Done);

    /// <summary>The tenant of this egress's edge; the database file is the edge's own, but queries are scoped as in every store.</summary>
    private readonly string _tenant;

    public SqliteDeliveryStore(IOptions<EgressOptions> options)
    {
        _tenant = options.Value.Edge.Split('/')[0];
        // Durably: deliveries committed into a directory whose own entry never reached the disk are lost with it.
        ZenMesh.Data.DirectorySync.CreateDurably(options.Value.DataDir);
        Location = Path.GetFullPath(Path.Combine(options.Value.DataDir, "deliveries.db"));
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Location, Pooling = true }.ToString();
        ZenMesh.Data.SqliteIntegrity.Check(Location, "the egress's deliveries (jobs the ingester no longer has) and their attempts");
        _writer = Open();
        _writer.Command("""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS deliveries (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL UNIQUE, event_id TEXT NOT NULL,
                tenant TEXT NOT NULL, flow TEXT NOT NULL, endpoint TEXT NOT NULL, event_type TEXT,
                received_at INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
                state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,
                due_at INTEGER NOT NULL, first_attempt_at INTEGER, recorded_at INTEGER NOT NULL, finished_at INTEGER,
                last_status INTEGER, last_outcome TEXT, last_fault TEXT, replay_id TEXT, replay_prior TEXT, ordering_key TEXT);
            CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (tenant, flow, due_at) WHERE state = 'pending';
            CREATE INDEX IF NOT EXISTS deliveries_received ON deliveries (tenant, flow, received_at);
            CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id);
            CREATE TABLE IF NOT EXISTS attempts (
                job_id TEXT NOT NULL, n INTEGER NOT NULL, at INTEGER NOT NULL, status INTEGER, latency_ms REAL NOT NULL,
                outcome TEXT NOT NULL, fault TEXT, detail TEXT, snippet TEXT, via TEXT NOT NULL,
                PRIMARY KEY (job_id, n)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS holds (tenant TEXT NOT NULL, flow TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (tenant, flow));
            CREATE TABLE IF NOT EXISTS replays (
                id TEXT PRIMARY KEY, filter TEXT NOT NULL, up_to_seq INTEGER NOT NULL, matched INTEGER NOT NULL, queued INTEGER NOT NULL DEFAULT 0,
                cursor INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER, withdrawn INTEGER NOT NULL DEFAULT 0);
            """).ExecuteNonQuery();
        // A data directory from before replays and ordering lacks their columns; SQLite adds them in place.
        var columns = _writer.Command("SELECT name FROM pragma_table_info('deliveries')").Strings();
        foreach (var column in ColumnsAdded.Except(columns))
        {
            _writer.Command($"ALTER TABLE deliveries ADD COLUMN {column} TEXT").ExecuteNonQuery();
        }
        _writer.Command("""
            CREATE INDEX IF NOT EXISTS deliveries_replay ON deliveries (replay_id) WHERE replay_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (tenant, flow, ordering_key, seq) WHERE state = 'pending' AND ordering_key IS NOT NULL;
            """).ExecuteNonQuery();
        _writes = new GroupCommitWriter<Write>(MostPerCommit, Commit, Failed);
    }

    public string Location { get; }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        connection.Command("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;").ExecuteNonQuery();
        return connection;
    }

    /// <summary>
    /// Queues a write for the committer, which runs whatever is queued in one transaction: under load
    /// many attempts' outcomes share one fsync (group commit); alone, a write commits at once.
    /// </summary>
    private async Task<T> WriteAsync<T>(Func<DbTransaction, T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var write = new Write(transaction => work(transaction), new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_writes.TryEnqueue(write))
        {
            throw new ObjectDisposedException(nameof(SqliteDeliveryStore), "the delivery store is closed");
        }
        return (T)(await write.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>The whole batch in one transaction: many attempts' outcomes share one fsync.</summary>
    private void Commit(IReadOnlyList<Write> batch)
    {
        var results = new object?[batch.Count];
        using (var transaction = _writer.BeginTransaction())
        {
            for (var i = 0; i < batch.Count; i++)
            {
                results[i] = batch[i].Work(transaction);
            }
            transaction.Commit();
        }
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done.SetResult(results[i]);
        }
    }

    private void Failed(IReadOnlyList<Write> batch, Exception e)
    {
        if (batch.Count == 1)
        {
            batch[0].Done.TrySetException(e);
            return;
        }
        // One write failed and took the batch with it: each again on its own, so only that one fails.
        foreach (var write in batch)
        {
            Alone(write);
        }
    }

    private void Alone(Write write)
    {
        try
        {
            using var transaction = _writer.BeginTransaction();
            var result = write.Work(transaction);
            transaction.Commit();
            write.Done.SetResult(result);
        }
        catch (Exception e)
        {
            write.Done.SetException(e);
        }
    }

    private async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await Task.Yield();
        using var connection = Open();
        return read(connection);
    }

    public Task<int> RecordAsync(IReadOnlyList<DeliveryJob> jobs, Func<DeliveryJob, string?> orderingKey, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync(transaction =>
    {
        var recorded = 0;
        foreach (var job in jobs)
        {
            var headers = DeliveryRows.Headers(job.Headers);
            recorded += _writer.Command("""
                INSERT INTO deliveries (job_id, event_id, tenant, flow, endpoint, event_type, received_at, headers, body, state, due_at, recorded_at, ordering_key)
                VALUES (@job, @event, @tenant, @flow, @endpoint, @type, @received, @headers, @body, 'pending', @now, @now, @key)
                ON CONFLICT (job_id) DO NOTHING
                """, transaction)
                .With("@job", job.JobId).With("@event", job.EventId).With("@tenant", job.Tenant).With("@flow", job.Flow).With("@endpoint", job.Endpoint)
                .With("@type", job.EventType.Length > 0 ? job.EventType : null).With("@received", Ms(job.ReceivedAt?.ToDateTimeOffset() ?? now))
                .With("@headers", headers).With("@body", job.Body.ToByteArray()).With("@now", Ms(now)).With("@key", orderingKey(job))
                .ExecuteNonQuery();
        }
        return recorded;
    }, cancellationToken);

    /// <summary>A pending delivery "d" that no older pending delivery of its flow with the same ordering key holds back.</summary>
    private const string NotBehind = "(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.tenant = d.tenant AND o.flow = d.flow AND o.state = 'pending' AND o.ordering_key = d.ordering_key AND o.seq < d.seq))";

    /// <summary>One egress owns this file, so its in-flight set is the only claim there is.</summary>
    public Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, TimeSpan claim, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Delivery>>(connection =>
    {
        // Asking for the in-flight ones too and dropping them here keeps the query one plain index range.
        using var command = connection.Command($"SELECT {Columns} FROM deliveries d WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND due_at <= @now AND {NotBehind} ORDER BY due_at, seq LIMIT @limit")
            .With("@tenant", tenant).With("@flow", flow).With("@now", Ms(now)).With("@limit", (long)max + skip.Count);
        return [.. Read(command).Select(r => r.Delivery).Where(d => !skip.Contains(d.JobId)).Take(max)];
    }, cancellationToken);

    public Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<DateTimeOffset?> NextDueAsync(string tenant, string flow, CancellationToken cancellationToken) => ReadAsync(connection =>
    {
        var next = connection.Command($"SELECT MIN(due_at) FROM deliveries d WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND {NotBehind}")
            .With("@tenant", tenant).With("@flow", flow).ExecuteScalar();
        return next is long ms ? Time(ms) : (DateTimeOffset?)null;
    }, cancellationToken);

    public Task FinishAttemptAsync(AttemptResult result, CancellationToken cancellationToken) => WriteAsync(transaction =>
    {
        var a = result.Attempt;
        _writer.Command("INSERT OR REPLACE INTO attempts (job_id, n, at, status, latency_ms, outcome, fault, detail, snippet, via) VALUES (@job, @n, @at, @status, @latency, @outcome, @fault, @detail, @snippet, @via)", transaction)
            .With("@job", a.JobId).With("@n", a.Number).With("@at", Ms(a.At)).With("@status", a.Status).With("@outcome", a.Outcome).With("@fault", a.Fault)
            .With("@detail", a.Detail).With("@snippet", a.Snippet).With("@via", a.Via).WithReal("@latency", a.LatencyMs).ExecuteNonQuery();
        var finished = result.State == DeliveryStates.Pending ? (long?)null : Ms(a.At);
        return _writer.Command("""
            UPDATE deliveries SET attempts = @n, failures = failures + @failure, state = @state, due_at = @due,
                first_attempt_at = COALESCE(first_attempt_at, @at), finished_at = @finished,
                last_status = @status, last_outcome = @outcome, last_fault = @fault
            WHERE job_id = @job
            """, transaction)
            .With("@job", a.JobId).With("@n", a.Number).With("@failure", result.CountsAsFailure ? 1 : 0).With("@state", result.State).With("@due", Ms(result.DueAt))
            .With("@at", Ms(a.At)).With("@finished", finished).With("@status", a.Status).With("@outcome", a.Outcome).With("@fault", a.Fault)
            .ExecuteNonQuery();
    }, cancellationToken);

    public Task<IReadOnlyList<(long Seq, Delivery Delivery)>> QueryAsync(DeliveryQuery query, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<(long, Delivery)>>(connection =>
    {
        var (where, command) = Where(connection, query, _tenant);
        command.CommandText = $"SELECT {Columns} FROM deliveries WHERE {where} AND seq > @after ORDER BY seq LIMIT @limit";
        command.With("@after", query.AfterSeq).With("@limit", (long)query.Limit);
        using (command)
        {
            return Read(command);
        }
    }, cancellationToken);

    public Task<Delivery?> GetAsync(string jobId, CancellationToken cancellationToken) => ReadAsync(connection =>
    {
        using var command = connection.Command($"SELECT {Columns} FROM deliveries WHERE job_id = @job").With("@job", jobId);
        return Read(command) is [var (_, delivery)] ? delivery : null;
    }, cancellationToken);

    public Task<IReadOnlyList<Attempt>> AttemptsAsync(string jobId, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Attempt>>(connection =>
    {
        using var command = connection.Command($"SELECT {AttemptColumns} FROM attempts WHERE job_id = @job ORDER BY n").With("@job", jobId);
        using var reader = command.ExecuteReader();
        var attempts = new List<Attempt>();
        while (reader.Read())
        {
            attempts.Add(DeliveryRows.Attempt(reader));
        }
        return attempts;
    }, cancellationToken);

    public Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>> CountsAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>>(connection =>
    {
        using var command = connection.Command("SELECT tenant, flow, state, COUNT(*) FROM deliveries GROUP BY tenant, flow, state");
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string, string, long)>();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        }
        return DeliveryRows.CountsByFlow(rows);
    }, cancellationToken);

    public Task HoldAsync(DeliveryHold hold, CancellationToken cancellationToken) => WriteAsync(transaction =>
        _writer.Command("INSERT OR REPLACE INTO holds (tenant, flow, reason, at) VALUES (@tenant, @flow, @reason, @at)", transaction)
            .With("@tenant", hold.Tenant).With("@flow", hold.Flow).With("@reason", hold.Reason).With("@at", Ms(hold.At)).ExecuteNonQuery(), cancellationToken);

    public Task<bool> ResumeAsync(string tenant, string flow, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync(transaction =>
    {
        var held = _writer.Command("DELETE FROM holds WHERE tenant = @tenant AND flow = @flow", transaction).With("@tenant", tenant).With("@flow", flow).ExecuteNonQuery() > 0;
        if (held)
        {
            _writer.Command("UPDATE deliveries SET due_at = @now WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND due_at > @now", transaction)
                .With("@tenant", tenant).With("@flow", flow).With("@now", Ms(now)).ExecuteNonQuery();
        }
        return held;
    }, cancellationToken);

    public Task<IReadOnlyList<DeliveryHold>> HoldsAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<DeliveryHold>>(connection =>
    {
        using var command = connection.Command("SELECT tenant, flow, reason, at FROM holds ORDER BY tenant, flow");
        using var reader = command.ExecuteReader();
        var holds = new List<DeliveryHold>();
        while (reader.Read())
        {
            holds.Add(new DeliveryHold(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time(reader.GetInt64(3))));
        }
        return holds;
    }, cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> PendingAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyDictionary<string, long>>(connection =>
    {
        // The literal 'pending' lets SQLite count from the partial due-time index alone.
        using var command = connection.Command("SELECT tenant, flow, COUNT(*) FROM deliveries WHERE state = 'pending' GROUP BY tenant, flow");
        using var reader = command.ExecuteReader();
        var pending = new Dictionary<string, long>(StringComparer.Ordinal);
        while (reader.Read())
        {
            pending[$"{reader.GetString(0)}/{reader.GetString(1)}"] = reader.GetInt64(2);
        }
        return pending;
    }, cancellationToken);

    public Task<IReadOnlyList<(string Flow, string State, long Count)>> CountAsync(DeliveryQuery query, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<(string, string, long)>>(connection =>
    {
        var (where, command) = Where(connection, query, _tenant);
        command.CommandText = $"SELECT tenant, flow, state, COUNT(*) FROM deliveries WHERE {where} GROUP BY tenant, flow, state ORDER BY tenant, flow, state";
        using (command)
        using (var reader = command.ExecuteReader())
        {
            var counts = new List<(string, string, long)>();
            while (reader.Read())
            {
                counts.Add(($"{reader.GetString(0)}/{reader.GetString(1)}", reader.GetString(2), reader.GetInt64(3)));
            }
            return counts;
        }
    }, cancellationToken);

    public Task<Replay> CreateReplayAsync(string id, DeliveryQuery filter, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync(transaction =>
    {
        var upTo = _writer.Command("SELECT COALESCE(MAX(seq), 0) FROM deliveries", transaction).Scalar<long>();
        var (where, command) = Where(_writer, filter, _tenant);
        command.CommandText = $"SELECT COUNT(*) FROM deliveries WHERE {where} AND seq <= @upto";
        command.Transaction = transaction;
        var matched = command.With("@upto", upTo).Scalar<long>();
        _writer.Command("INSERT INTO replays (id, filter, up_to_seq, matched, state, created_at) VALUES (@id, @filter, @upto, @matched, @state, @now)", transaction)
            .With("@id", id).With("@filter", DeliveryRows.Filter(filter)).With("@upto", upTo).With("@matched", matched)
            .With("@state", ReplayStates.Running).With("@now", Ms(now)).ExecuteNonQuery();
        return ReplayIn(id, transaction)!;
    }, cancellationToken);

    public Task<(Replay Replay, IReadOnlyList<(string Tenant, string Flow)> Flows)> ReplayBatchAsync(string id, int max, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync<(Replay, IReadOnlyList<(string, string)>)>(transaction =>
    {
        var replay = ReplayIn(id, transaction) ?? throw new InvalidOperationException($"no replay '{id}'");
        if (replay.State != ReplayStates.Running)
        {
            return (replay, []);
        }
        var (where, command) = Where(_writer, replay.Filter, _tenant);
        command.CommandText = DeliveryRows.ReplayBatch("deliveries", "json_object", where);
        command.Transaction = transaction;
        command.With("@id", id).With("@now", Ms(now)).With("@cursor", replay.Cursor).With("@upto", replay.UpToSeq).With("@max", (long)max);
        var cursor = replay.Cursor;
        var flows = new HashSet<(string, string)>();
        var queued = 0L;
        using (command)
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                cursor = Math.Max(cursor, reader.GetInt64(0));
                flows.Add((reader.GetString(1), reader.GetString(2)));
                queued++;
            }
        }
        var done = queued < max;
        _writer.Command("UPDATE replays SET queued = queued + @queued, cursor = @cursor, state = @state, finished_at = @finished WHERE id = @id", transaction)
            .With("@id", id).With("@queued", queued).With("@cursor", done ? replay.UpToSeq : cursor)
            .With("@state", done ? ReplayStates.Done : ReplayStates.Running).With("@finished", done ? Ms(now) : null).ExecuteNonQuery();
        return (ReplayIn(id, transaction)!, [.. flows]);
    }, cancellationToken);

    public Task<Replay?> CancelReplayAsync(string id, DateTimeOffset now, CancellationToken cancellationToken) => WriteAsync(transaction =>
    {
        if (ReplayIn(id, transaction) is not { } replay || replay.State == ReplayStates.Cancelled)
        {
            return ReplayIn(id, transaction);
        }
        // Not attempted since the replay queued it: first_attempt_at is what the replay cleared and every attempt sets.
        var withdrawn = _writer.Command("""
            UPDATE deliveries SET state = json_extract(replay_prior, '$.state'), failures = json_extract(replay_prior, '$.failures'),
                first_attempt_at = json_extract(replay_prior, '$.first'), finished_at = json_extract(replay_prior, '$.finished'),
                due_at = json_extract(replay_prior, '$.due'), replay_id = NULL, replay_prior = NULL
            WHERE replay_id = @id AND state = 'pending' AND first_attempt_at IS NULL
            """, transaction).With("@id", id).ExecuteNonQuery();
        _writer.Command("UPDATE replays SET state = @state, finished_at = @now, withdrawn = @withdrawn WHERE id = @id", transaction)
            .With("@id", id).With("@state", ReplayStates.Cancelled).With("@now", Ms(now)).With("@withdrawn", withdrawn).ExecuteNonQuery();
        return ReplayIn(id, transaction);
    }, cancellationToken);

    public Task<Replay?> GetReplayAsync(string id, CancellationToken cancellationToken) => ReadAsync(connection =>
        Replays(connection.Command($"SELECT {ReplayColumns} FROM replays WHERE id = @id").With("@id", id)) is [var replay] ? replay : null, cancellationToken);

    public Task<IReadOnlyList<Replay>> ReplaysAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Replay>>(connection =>
        Replays(connection.Command($"SELECT {ReplayColumns} FROM replays ORDER BY created_at DESC, id")), cancellationToken);

    private Replay? ReplayIn(string id, DbTransaction transaction) =>
        Replays(_writer.Command($"SELECT {ReplayColumns} FROM replays WHERE id = @id", transaction).With("@id", id)) is [var replay] ? replay : null;

    private static List<Replay> Replays(DbCommand command)
    {
        using (command)
        using (var reader = command.ExecuteReader())
        {
            var replays = new List<Replay>();
            while (reader.Read())
            {
                replays.Add(DeliveryRows.Replay(reader));
            }
            return replays;
        }
    }

    private static List<(long Seq, Delivery Delivery)> Read(DbCommand command)
    {
        using var reader = command.ExecuteReader();
        var rows = new List<(long, Delivery)>();
        while (reader.Read())
        {
            rows.Add(DeliveryRows.Delivery(reader));
        }
        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        await _writes.DisposeAsync().ConfigureAwait(false);
        _writer.Dispose();
    }
}
