using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using ZenMesh.Egress.Hosting;
using static ZenMesh.Egress.Storage.DeliveryRows;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// Deliveries in a SQLite file in the data directory (WAL, synchronous=FULL: a job is on disk
/// before the ingester hears it was taken). One connection writes, through the one group-commit
/// writer; reads open their own. The SQL is <see cref="DeliveryStore"/>'s, the same as PostgreSQL's;
/// one egress owns the file, so what is due needs no claim.
/// </summary>
public sealed class SqliteDeliveryStore : DeliveryStore
{
    private static readonly string[] ColumnsAdded = ["replay_id", "replay_prior", "ordering_key"];
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    /// <summary>Most writes committed in one transaction (one fsync).</summary>
    private const int MostPerCommit = 256;

    private readonly GroupCommitWriter<Write> _writes;

    private sealed record Write(Func<DbTransaction, object?> Work, TaskCompletionSource<object?> Done);

    public SqliteDeliveryStore(IOptions<EgressOptions> options)
        : base(options.Value.Edge.Split('/')[0], "")
    {
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
                cursor INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER, withdrawn INTEGER NOT NULL DEFAULT 0,
                tenant TEXT NOT NULL DEFAULT '');
            """).ExecuteNonQuery();
        // A data directory from before replays and ordering lacks their columns; SQLite adds them in place.
        var columns = _writer.Command("SELECT name FROM pragma_table_info('deliveries')").Strings();
        foreach (var column in ColumnsAdded.Except(columns))
        {
            _writer.Command($"ALTER TABLE deliveries ADD COLUMN {column} TEXT").ExecuteNonQuery();
        }
        if (!_writer.Command("SELECT name FROM pragma_table_info('replays')").Strings().Contains("tenant"))
        {
            _writer.Command("ALTER TABLE replays ADD COLUMN tenant TEXT NOT NULL DEFAULT ''").ExecuteNonQuery();
        }
        _writer.Command("""
            CREATE INDEX IF NOT EXISTS deliveries_replay ON deliveries (replay_id) WHERE replay_id IS NOT NULL;
            CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (tenant, flow, ordering_key, seq) WHERE state = 'pending' AND ordering_key IS NOT NULL;
            """).ExecuteNonQuery();
        _writes = new GroupCommitWriter<Write>(MostPerCommit, Commit, Failed);
    }

    public override string Location { get; }

    protected override string JsonObject => "json_object";

    // The writer is the only one: nothing to lock a row against.
    protected override string ForUpdate => "";

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

    /// <summary>
    /// On the writer's thread, in its transaction: Microsoft.Data.Sqlite's async calls complete
    /// synchronously (SQLite has no asynchronous I/O), so the work runs whole there, as group commit needs.
    /// </summary>
    protected override Task<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken) =>
        WriteAsync(transaction => work(_writer, transaction).GetAwaiter().GetResult(), cancellationToken);

    protected override async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await Task.Yield();
        await using var connection = Open();
        return await read(connection).ConfigureAwait(false);
    }

    public override Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, TimeSpan claim, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Delivery>>(async connection =>
    {
        // One egress owns this file, so its in-flight set is the only claim there is: asking for the
        // in-flight ones too and dropping them here keeps the query one plain index range.
        var due = await RowsAsync(connection.Command($"SELECT {Columns} FROM deliveries d WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND due_at <= @now AND {NotBehind} ORDER BY due_at, seq LIMIT @limit")
            .With("@tenant", tenant).With("@flow", flow).With("@now", Ms(now)).With("@limit", (long)max + skip.Count), DeliveryRows.Delivery, cancellationToken).ConfigureAwait(false);
        return [.. due.Select(r => r.Delivery).Where(d => !skip.Contains(d.JobId)).Take(max)];
    }, cancellationToken);

    public override Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken) => Task.CompletedTask;

    public override Task<DateTimeOffset?> NextDueAsync(string tenant, string flow, CancellationToken cancellationToken) => ReadAsync(async connection =>
    {
        var command = connection.Command($"SELECT MIN(due_at) FROM deliveries d WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND {NotBehind}")
            .With("@tenant", tenant).With("@flow", flow);
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ms ? Time(ms) : (DateTimeOffset?)null;
        }
    }, cancellationToken);

    public override async ValueTask DisposeAsync()
    {
        await _writes.DisposeAsync().ConfigureAwait(false);
        _writer.Dispose();
    }
}

