using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Events in a SQLite file in the data directory, committed with synchronous=FULL before anyone is
/// told they are stored, through the one group-commit writer (so nothing waits on SQLite's busy
/// lock). Events live in one table per UTC day, so retention drops whole tables instead of deleting
/// rows. Deduplication on the provider's id is durable: each event's row holds its key, and a
/// <see cref="DedupIndex"/> beside the database finds it (kept out of the commit, which it had doubled).
/// </summary>
public sealed partial class SqliteEventStore : GroupCommitStore
{
    private readonly string _connectionString;
    private volatile ImmutableSortedSet<string> _partitions;
    private readonly DedupIndex _dedup;
    private Statements? _statements;

    public SqliteEventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<SqliteEventStore> logger)
        : base(options.Value, time, logger)
    {
        StoreKinds.RefuseSwitch(Options.DataDir, to: "sqlite");
        Directory.CreateDirectory(Options.DataDir);
        Location = Path.GetFullPath(Path.Combine(Options.DataDir, "events.db"));
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Location, Pooling = true }.ToString();
        using var connection = Open();
        using (var schema = connection.CreateCommand())
        {
            // AUTOINCREMENT: a job's seq is never reused, so a lease cursor never skips a new job.
            schema.CommandText = """
                PRAGMA journal_mode = WAL;
                CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL);
                """;
            schema.ExecuteNonQuery();
        }
        _partitions = [.. connection.Command("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'events\\_%' ESCAPE '\\'").Strings().Select(n => n["events_".Length..])];
        _dedup = new DedupIndex(Path.Combine(Options.DataDir, "dedup"), Options.DedupWindow, time, logger, Options.DedupRunSize);
        MigrateDedupTable(connection);
        RecoverDedupKeys(connection);
        StartWriter(connection.Command("SELECT COUNT(*) FROM jobs").Scalar<long>());
    }

    public override string Location { get; }

    public override long Count(string tenant, string endpoint)
    {
        using var connection = Open();
        return _partitions.Sum(p => connection.Command($"SELECT COUNT(*) FROM {Table(p)} WHERE tenant = @tenant AND endpoint = @endpoint").With("@tenant", tenant).With("@endpoint", endpoint).Scalar<long>());
    }

    public override byte[]? Body(string eventId)
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

    protected override List<object?> Commit(List<Work> batch)
    {
        _statements ??= new Statements(Open());
        var st = _statements;
        var now = Time.GetUtcNow();
        Span<char> receivedAt = stackalloc char[40];
        var outcomes = new List<object?>(batch.Count);
        var inBatch = new Dictionary<UInt128, string>();
        var claims = new List<(UInt128 Key, Guid Event, string Partition, long Row)>(batch.Count);
        var partitions = _partitions;
        long jobDelta = 0;
        using var transaction = st.Connection.BeginTransaction();
        st.Enlist(transaction);
        foreach (var work in batch)
        {
            switch (work)
            {
                case Append { Event: var e, Key: var key }:
                    if (_dedup.DuplicateOf(key, inBatch) is { } duplicateOf)
                    {
                        outcomes.Add(new StoredEvent(duplicateOf, Duplicate: true));
                        continue;
                    }
                    var uuid = Uuids.New(e.ReceivedAt);
                    var id = EventIds.Of(uuid);
                    var partition = EventIds.PartitionOf(e.ReceivedAt);
                    if (!partitions.Contains(partition))
                    {
                        st.Connection.Command($"CREATE TABLE IF NOT EXISTS {Table(partition)} (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL)", transaction).ExecuteNonQuery();
                        partitions = partitions.Add(partition);
                    }
                    e.ReceivedAt.TryFormat(receivedAt, out var written, "O", CultureInfo.InvariantCulture);
                    st.InsertInto(partition).Bind(1, id).Bind(2, e.Tenant).Bind(3, e.Endpoint).Bind(4, e.DedupKey).Bind(5, e.EventType)
                        .Bind(6, receivedAt[..written]).BindUtf8Text(7, e.HeadersJson).Bind(8, e.Body).Execute();
                    claims.Add((key, uuid, partition, st.LastInsertRowId));
                    foreach (var flow in e.Flows)
                    {
                        st.Job.Bind(1, id).Bind(2, flow).Bind(3, partition).Execute();
                        jobDelta++;
                    }
                    inBatch[key] = id;
                    outcomes.Add(new StoredEvent(id, Duplicate: false));
                    break;
                case AckJobs { Keys: var seqs }:
                    foreach (var seq in seqs)
                    {
                        st.Seq.Value = seq;
                        jobDelta -= st.DeleteJob.ExecuteNonQuery();
                    }
                    outcomes.Add(null);
                    break;
                case Expire:
                    var result = ExpireIn(transaction, partitions, now);
                    partitions = partitions.Except(result.DroppedPartitions);
                    jobDelta -= result.DroppedJobs;
                    outcomes.Add(result);
                    break;
            }
        }
        // A new day's partition is published before the commit that makes its first jobs visible: the
        // lease loop reads a job the moment it is committed, and a job whose partition it does not
        // know is taken for one whose events retention dropped, and acknowledged away.
        var before = _partitions;
        _partitions = before.Union(partitions);
        try
        {
            transaction.Commit();
        }
        catch
        {
            _partitions = before;
            throw;
        }
        _partitions = partitions;
        // Only now: a claim remembered for a transaction that rolled back would turn its redelivery away.
        foreach (var (key, uuid, partition, row) in claims)
        {
            _dedup.Add(key, uuid, partition, row);
        }
        _dedup.MaybeFlush();
        AddOpenJobs(jobDelta);
        return outcomes;
    }

    protected override ValueTask DisposeStoreAsync()
    {
        _statements?.Dispose();
        _reader?.Dispose();
        _dedup.Dispose();
        _leases.Dispose();
        return ValueTask.CompletedTask;
    }
}
