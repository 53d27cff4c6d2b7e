using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using ZenMesh.Data;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Events in a SQLite file in the data directory, committed with synchronous=FULL (WAL) before anyone
/// is told they are stored, through the one group-commit writer (so nothing waits on SQLite's busy
/// lock). Events live in one table per UTC day, and so do their dedup keys (the first 16 bytes of
/// SHA-256, <see cref="DedupHash"/>), so retention and the dedup window each drop whole tables
/// instead of deleting rows. Each event's row holds its key, which is what makes it durable: the
/// keys' own tables are written behind, in a file of their own (see SqliteEventStore.Dedup). Both
/// files are checked (PRAGMA quick_check) before they are served.
/// </summary>
public sealed partial class SqliteEventStore : GroupCommitStore
{
    private readonly string _connectionString;
    private volatile ImmutableSortedSet<string> _partitions;
    private readonly DedupKeyFile _keys;
    private Statements? _statements;

    public SqliteEventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<SqliteEventStore> logger)
        : base(options.Value, time, logger)
    {
        RemovedLogStore.RefuseLeftovers(Options.DataDir);
        // Durably: events committed into a directory whose own entry never reached the disk are lost with it.
        DirectorySync.CreateDurably(Options.DataDir);
        Location = Path.GetFullPath(Path.Combine(Options.DataDir, "events.db"));
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Location, Pooling = true }.ToString();
        SqliteIntegrity.Check(Location, "the ingester's events, dedup keys and open jobs");
        using var connection = Open();
        // AUTOINCREMENT: a job's seq is never reused, so a lease cursor never skips a new job.
        connection.Command("""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at TEXT NOT NULL);
            """).ExecuteNonQuery();
        _partitions = [.. Tables(connection, "events_")];
        _keys = new DedupKeyFile(Path.Combine(Path.GetDirectoryName(Location)!, "dedup.db"), Options.DedupWriteBatch, Options.SkipSyncForTests, Options.StoreProbeInterval, Time, Logger);
        RecoverUnwrittenKeys(connection);
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

    private static IEnumerable<string> Tables(SqliteConnection connection, string prefix) =>
        connection.Command("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE @pattern ESCAPE '\\'").With("@pattern", prefix.Replace("_", "\\_", StringComparison.Ordinal) + "%").Strings().Select(n => n[prefix.Length..]);

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        connection.Command(Options.SkipSyncForTests ? "PRAGMA synchronous = OFF;" : "PRAGMA synchronous = FULL;").ExecuteNonQuery();
        return connection;
    }

    protected override void Probe()
    {
        RefuseWhileKeysBehind();
        OnWriterConnection(st => st.Connection.Command("INSERT OR REPLACE INTO probe (id, at) VALUES (1, @at)").With("@at", Time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)).ExecuteNonQuery());
    }

    protected override void Commit(IReadOnlyList<Work> batch)
    {
        if (batch.Any(w => w is Append))
        {
            RefuseWhileKeysBehind();
        }
        OnWriterConnection(st => CommitOn(st, batch));
    }

    /// <summary>
    /// Runs writer work on the writer's connection. After a failure (a full disk, an I/O error)
    /// SQLite may have rolled back on its own: the next work starts on a connection of its own
    /// rather than on whatever state is left.
    /// </summary>
    private void OnWriterConnection(Action<Statements> work)
    {
        _statements ??= new Statements(Open());
        try
        {
            work(_statements);
        }
        catch
        {
            _statements.Dispose();
            _statements = null;
            throw;
        }
    }

    private void CommitOn(Statements st, IReadOnlyList<Work> batch)
    {
        var now = Time.GetUtcNow();
        Span<char> receivedAt = stackalloc char[40];
        var inBatch = new Dictionary<UInt128, string>();
        var claims = new List<DedupClaim>();
        var partitions = _partitions;
        long jobDelta = 0;
        using var transaction = st.Connection.BeginTransaction();
        st.Enlist(transaction);
        foreach (var work in batch)
        {
            switch (work)
            {
                case Append { Event: var e, Key: var key } append:
                    if (inBatch.TryGetValue(key, out var sameBatch)
                        || (sameBatch = Remembered(_unwritten.TryGetValue(key, out var unwritten) ? unwritten.Uuid : null, now)) is not null
                        || (sameBatch = Remembered(_keys.Lookup(key), now)) is not null)
                    {
                        append.Outcome = new StoredEvent(sameBatch, Duplicate: true);
                        continue;
                    }
                    var uuid = Uuids.New(e.ReceivedAt);
                    var id = EventIds.Of(uuid);
                    var partition = EventIds.PartitionOf(e.ReceivedAt);
                    if (partitions.TryGetValue(partition, out var known))
                    {
                        partition = known;
                    }
                    else
                    {
                        st.Connection.Command($"CREATE TABLE IF NOT EXISTS {Table(partition)} (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL)", transaction).ExecuteNonQuery();
                        partitions = partitions.Add(partition);
                    }
                    e.ReceivedAt.TryFormat(receivedAt, out var written, "O", CultureInfo.InvariantCulture);
                    st.InsertInto(partition).Bind(1, id).Bind(2, e.Tenant).Bind(3, e.Endpoint).Bind(4, e.DedupKey).Bind(5, e.EventType)
                        .Bind(6, receivedAt[..written]).BindUtf8Text(7, e.HeadersJson).Bind(8, e.Body).Execute();
                    claims.Add(new DedupClaim(key, uuid, partition, st.LastInsertRowId));
                    foreach (var flow in e.Flows)
                    {
                        st.Job.Bind(1, id).Bind(2, flow).Bind(3, partition).Execute();
                        jobDelta++;
                    }
                    inBatch[key] = id;
                    append.Outcome = new StoredEvent(id, Duplicate: false);
                    break;
                case AckJobs { Seqs: var seqs }:
                    foreach (var seq in seqs)
                    {
                        st.Seq.Value = seq;
                        jobDelta -= st.DeleteJob.ExecuteNonQuery();
                    }
                    break;
                case Expire expire:
                    var result = ExpireIn(transaction, partitions, now);
                    partitions = partitions.Except(result.DroppedPartitions);
                    jobDelta -= result.DroppedJobs;
                    expire.Outcome = result;
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
        // Only now: a key remembered for a transaction that rolled back would turn its redelivery away.
        Claimed(claims);
        AddOpenJobs(jobDelta);
    }

    /// <summary>
    /// The id of the event a key was first stored as, while that is inside the dedup window (its UUID
    /// holds the time it came in): a day's keys are dropped whole, so a key can outlive its window by up to a day.
    /// </summary>
    private string? Remembered(Guid? uuid, DateTimeOffset now) =>
        uuid is { } first && EventIds.TimeOf(first) + Options.DedupWindow > now ? EventIds.Of(first) : null;

    protected override async ValueTask DisposeStoreAsync()
    {
        // After the events' writer: every key it queued is written (a clean stop leaves none to read back).
        await _keys.DisposeAsync().ConfigureAwait(false);
        _statements?.Dispose();
        _reader?.Dispose();
        _leases.Dispose();
    }
}
