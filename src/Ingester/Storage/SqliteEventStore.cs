using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Events in a SQLite file in the data directory, committed with synchronous=FULL before anyone is
/// told they are stored, through the one group-commit writer (so nothing waits on SQLite's busy
/// lock). Events live in one table per UTC day, so retention drops whole tables instead of deleting
/// rows. Deduplication on the provider's id is durable (a table with an expiry).
/// </summary>
public sealed partial class SqliteEventStore : GroupCommitStore
{
    private readonly string _connectionString;
    private volatile ImmutableSortedSet<string> _partitions;
    private Statements? _statements;

    public SqliteEventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<SqliteEventStore> logger)
        : base(options.Value, time, logger)
    {
        Directory.CreateDirectory(Options.DataDir);
        Location = Path.GetFullPath(Path.Combine(Options.DataDir, "events.db"));
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
        var nowText = now.ToString("O", CultureInfo.InvariantCulture);
        var expiresText = (now + Options.DedupWindow).ToString("O", CultureInfo.InvariantCulture);
        Span<char> receivedAt = stackalloc char[40];
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
                case Append { Event: var e, Key: var key }:
                    if (inBatch.TryGetValue(key, out var sameBatch))
                    {
                        outcomes.Add(new StoredEvent(sameBatch, Duplicate: true));
                        continue;
                    }
                    var id = EventIds.New(e.ReceivedAt);
                    // One statement claims the key (new, or its old claim expired); only a duplicate costs a second.
                    if (st.Claim.Bind(1, e.Tenant).Bind(2, e.Endpoint).Bind(3, e.DedupKey).Bind(4, id).Bind(5, expiresText).Bind(6, nowText).Execute() == 0)
                    {
                        outcomes.Add(new StoredEvent(st.Find.Bind(1, e.Tenant).Bind(2, e.Endpoint).Bind(3, e.DedupKey).Text()!, Duplicate: true));
                        continue;
                    }
                    var partition = EventIds.PartitionOf(e.ReceivedAt);
                    if (!partitions.Contains(partition))
                    {
                        st.Connection.Command($"CREATE TABLE IF NOT EXISTS {Table(partition)} (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL)", transaction).ExecuteNonQuery();
                        partitions = partitions.Add(partition);
                    }
                    e.ReceivedAt.TryFormat(receivedAt, out var written, "O", CultureInfo.InvariantCulture);
                    st.InsertInto(partition).Bind(1, id).Bind(2, e.Tenant).Bind(3, e.Endpoint).Bind(4, e.DedupKey).Bind(5, e.EventType)
                        .Bind(6, receivedAt[..written]).BindUtf8Text(7, e.HeadersJson).Bind(8, e.Body).Execute();
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
        AddOpenJobs(jobDelta);
        return outcomes;
    }

    protected override ValueTask DisposeStoreAsync()
    {
        _statements?.Dispose();
        _reader?.Dispose();
        _leaseLock.Dispose();
        return ValueTask.CompletedTask;
    }
}
