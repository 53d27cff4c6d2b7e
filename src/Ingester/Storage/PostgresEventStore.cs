using System.Collections.Immutable;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using ZenMesh.Data;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Events in PostgreSQL, for several ingesters behind one ingress. The same shape as the embedded
/// store (group commit, one table per UTC day, durable dedup keys), but what must be shared lives in
/// the database: a redelivery to another instance is still a duplicate (the dedup key's row lock
/// orders concurrent claims), and leases are rows (FOR UPDATE SKIP LOCKED), so two ingesters never
/// hand out the same job at once and either can take the acknowledgement.
/// </summary>
public sealed partial class PostgresEventStore : GroupCommitStore
{
    // Serialises CREATE TABLE of a new day across instances (it is not safe to race).
    private const long SchemaLock = 0x7a656e6d657368;
    private readonly NpgsqlDataSource _source;
    private volatile ImmutableHashSet<string> _partitions = ImmutableHashSet<string>.Empty;
    private NpgsqlConnection? _writer;

    public PostgresEventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<PostgresEventStore> logger)
        : base(options.Value, time, logger)
    {
        var builder = new NpgsqlConnectionStringBuilder(Options.Postgres);
        Location = $"postgres://{builder.Host}:{builder.Port}/{builder.Database}";
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
        using var connection = _source.OpenConnection();
        PostgresDurability.RequireSynchronousCommit(connection, $"user '{builder.Username}' on database '{builder.Database}' at {builder.Host}", "the ingester answers 2xx only for events that survive a crash");
        using (var transaction = connection.BeginTransaction())
        {
            connection.Command("SELECT pg_advisory_xact_lock(@lock)", transaction).With("@lock", SchemaLock).ExecuteNonQuery();
            connection.Command("""
                CREATE TABLE IF NOT EXISTS ingester_dedup (tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, endpoint, dedup_key));
                CREATE INDEX IF NOT EXISTS ingester_dedup_expiry ON ingester_dedup (expires_at);
                CREATE TABLE IF NOT EXISTS ingester_probe (instance TEXT PRIMARY KEY, at TIMESTAMPTZ NOT NULL);
                CREATE TABLE IF NOT EXISTS ingester_jobs (seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, flow TEXT NOT NULL, partition TEXT NOT NULL, leased_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity', handed_out INT NOT NULL DEFAULT 0, UNIQUE (event_id, flow));
                -- Whose edge a job is: ingesters of several edges (and tenants) may share the database,
                -- and each hands out only its own edge's jobs. '' marks jobs stored before the column.
                ALTER TABLE ingester_jobs ADD COLUMN IF NOT EXISTS edge TEXT NOT NULL DEFAULT '';
                """, transaction).ExecuteNonQuery();
            transaction.Commit();
        }
        _partitions = [.. Partitions(connection)];
        StartWriter(0);
    }

    public override string Location { get; }

    /// <summary>Every instance's jobs: the count is the database's, not this process's.</summary>
    public override long OpenJobs
    {
        get
        {
            using var connection = _source.OpenConnection();
            return connection.Command("SELECT COUNT(*) FROM ingester_jobs WHERE edge IN (@edge, '')").With("@edge", Options.Edge).Scalar<long>();
        }
    }

    private static string Table(string partition) => "ingester_events_" + partition;

    private static List<string> Partitions(NpgsqlConnection connection) =>
        [.. connection.Command("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'ingester\\_events\\_%'").Strings().Select(t => t["ingester_events_".Length..])];

    public override long Count(string tenant, string endpoint)
    {
        using var connection = _source.OpenConnection();
        return Partitions(connection).Sum(p => connection.Command($"SELECT COUNT(*) FROM {Table(p)} WHERE tenant = @tenant AND endpoint = @endpoint").With("@tenant", tenant).With("@endpoint", endpoint).Scalar<long>());
    }

    public override byte[]? Body(string eventId)
    {
        if (EventIds.PartitionOf(eventId) is not { } partition)
        {
            return null;
        }
        using var connection = _source.OpenConnection();
        try
        {
            return connection.Command($"SELECT body FROM {Table(partition)} WHERE id = @id").With("@id", eventId).ExecuteScalar() as byte[];
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            return null;
        }
    }

    private NpgsqlConnection Writer()
    {
        if (_writer is not { State: System.Data.ConnectionState.Open })
        {
            _writer?.Dispose();
            _writer = _source.OpenConnection();
        }
        return _writer;
    }

    protected override void Probe()
    {
        var connection = Writer();
        connection.Command("INSERT INTO ingester_probe (instance, at) VALUES (@instance, now()) ON CONFLICT (instance) DO UPDATE SET at = excluded.at").With("@instance", Options.Edge).ExecuteNonQuery();
    }

    protected override void Commit(IReadOnlyList<Work> batch)
    {
        var connection = Writer();
        var now = Time.GetUtcNow();
        EnsurePartitions(connection, batch.OfType<Append>().Select(a => EventIds.PartitionOf(a.Event.ReceivedAt)));
        var inBatch = new Dictionary<string, string>(StringComparer.Ordinal);
        var outcomes = new List<(Append Append, StoredEvent Outcome)>();
        using var transaction = connection.BeginTransaction();
        // Claims in key order: two instances claiming overlapping keys wait for each other, never deadlock.
        foreach (var append in batch.OfType<Append>().OrderBy(a => DedupKey(a.Event), StringComparer.Ordinal))
        {
            var e = append.Event;
            var key = DedupKey(e);
            if (inBatch.TryGetValue(key, out var sameBatch))
            {
                outcomes.Add((append, new StoredEvent(sameBatch, Duplicate: true)));
                continue;
            }
            var id = EventIds.Of(Uuids.New(e.ReceivedAt));
            var claimed = connection.Command("""
                INSERT INTO ingester_dedup (tenant, endpoint, dedup_key, event_id, expires_at) VALUES (@tenant, @endpoint, @key, @id, @expires)
                ON CONFLICT (tenant, endpoint, dedup_key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at WHERE ingester_dedup.expires_at <= @now
                RETURNING event_id
                """, transaction).With("@tenant", e.Tenant).With("@endpoint", e.Endpoint).With("@key", e.DedupKey).With("@id", id).WithTime("@expires", now + Options.DedupWindow).WithTime("@now", now).ExecuteScalar();
            if (claimed is null)
            {
                var existing = connection.Command("SELECT event_id FROM ingester_dedup WHERE tenant = @tenant AND endpoint = @endpoint AND dedup_key = @key", transaction)
                    .With("@tenant", e.Tenant).With("@endpoint", e.Endpoint).With("@key", e.DedupKey).ExecuteScalar();
                outcomes.Add((append, new StoredEvent((string)existing!, Duplicate: true)));
                continue;
            }
            var partition = EventIds.PartitionOf(e.ReceivedAt);
            connection.Command($"INSERT INTO {Table(partition)} (id, tenant, endpoint, dedup_key, event_type, received_at, headers, body) VALUES (@id, @tenant, @endpoint, @key, @type, @at, @headers, @body)", transaction)
                .With("@id", id).With("@tenant", e.Tenant).With("@endpoint", e.Endpoint).With("@key", e.DedupKey).With("@type", e.EventType).WithTime("@at", e.ReceivedAt).With("@headers", Encoding.UTF8.GetString(e.HeadersJson)).With("@body", e.Body).ExecuteNonQuery();
            if (e.Flows.Count > 0)
            {
                connection.Command("INSERT INTO ingester_jobs (event_id, flow, partition, edge) SELECT @id, f, @partition, @edge FROM unnest(@flows) AS f", transaction)
                    .With("@id", id).With("@partition", partition).With("@edge", Options.Edge).WithTexts("@flows", e.Flows).ExecuteNonQuery();
            }
            inBatch[key] = id;
            outcomes.Add((append, new StoredEvent(id, Duplicate: false)));
        }
        var expires = batch.OfType<Expire>().ToList();
        var expired = expires.Count > 0 ? ExpireIn(connection, transaction, now) : null;
        transaction.Commit();
        // Outcomes only once committed: a batch that failed must not look answered.
        foreach (var (append, outcome) in outcomes)
        {
            append.Outcome = outcome;
        }
        foreach (var expire in expires)
        {
            expire.Outcome = expired;
        }
    }

    private void EnsurePartitions(NpgsqlConnection connection, IEnumerable<string> needed)
    {
        foreach (var partition in needed.Distinct().Where(p => !_partitions.Contains(p)).ToList())
        {
            using var transaction = connection.BeginTransaction();
            connection.Command("SELECT pg_advisory_xact_lock(@lock)", transaction).With("@lock", SchemaLock).ExecuteNonQuery();
            connection.Command($"CREATE TABLE IF NOT EXISTS {Table(partition)} (id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, dedup_key TEXT NOT NULL, event_type TEXT, received_at TIMESTAMPTZ NOT NULL, headers TEXT NOT NULL, body BYTEA NOT NULL)", transaction).ExecuteNonQuery();
            transaction.Commit();
            _partitions = _partitions.Add(partition);
        }
    }

    private RetentionResult ExpireIn(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset now)
    {
        var cutoff = now - Options.Retention;
        connection.Command("SELECT pg_advisory_xact_lock(@lock)", transaction).With("@lock", SchemaLock).ExecuteNonQuery();
        var dropped = Partitions(connection).Where(p => EventIds.EndOf(p) <= cutoff).Order(StringComparer.Ordinal).ToList();
        long jobs = 0;
        foreach (var partition in dropped)
        {
            jobs += connection.Command("DELETE FROM ingester_jobs WHERE partition = @partition", transaction).With("@partition", partition).ExecuteNonQuery();
            connection.Command($"DROP TABLE IF EXISTS {Table(partition)}", transaction).ExecuteNonQuery();
        }
        _partitions = _partitions.Except(dropped);
        var keys = connection.Command("DELETE FROM ingester_dedup WHERE ctid IN (SELECT ctid FROM ingester_dedup WHERE expires_at <= @now LIMIT 10000)", transaction).WithTime("@now", now).ExecuteNonQuery();
        return new RetentionResult(dropped, jobs, keys);
    }

    public override async Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (max <= 0 || flows is { Count: 0 })
        {
            return [];
        }
        var now = Time.GetUtcNow();
        var until = now + lease;
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var picked = new List<(long Seq, string EventId, string Flow, string Partition, int HandedOut)>();
        await using (var command = connection.Command("""
            UPDATE ingester_jobs j SET leased_until = @until, handed_out = j.handed_out + 1
            FROM (SELECT seq FROM ingester_jobs WHERE leased_until <= @now AND edge IN (@edge, '') AND (@all OR flow = ANY(@flows)) ORDER BY seq LIMIT @max FOR UPDATE SKIP LOCKED) pick
            WHERE j.seq = pick.seq
            RETURNING j.seq, j.event_id, j.flow, j.partition, j.handed_out
            """).WithTime("@until", until).WithTime("@now", now).With("@edge", Options.Edge).With("@all", flows is null).WithTexts("@flows", flows?.ToList() ?? []).With("@max", (long)max))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                picked.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt32(4)));
            }
        }
        var leased = new List<LeasedJob>(picked.Count);
        var orphans = new List<string>();
        foreach (var group in picked.OrderBy(p => p.Seq).GroupBy(p => p.Partition))
        {
            var events = await ReadEventsAsync(connection, group.Key, [.. group.Select(p => p.EventId).Distinct()], cancellationToken).ConfigureAwait(false);
            foreach (var job in group)
            {
                if (events.TryGetValue(job.EventId, out var e))
                {
                    leased.Add(e with { JobId = LeasedJob.IdOf(job.EventId, job.Flow), Flow = job.Flow, HandedOut = job.HandedOut, LeaseExpiresAt = until });
                }
                else
                {
                    orphans.Add(LeasedJob.IdOf(job.EventId, job.Flow));
                }
            }
        }
        if (orphans.Count > 0)
        {
            // Their event's partition was dropped by retention: nothing left to deliver.
            await AckAsync(orphans, cancellationToken).ConfigureAwait(false);
        }
        return leased;
    }

    private static async Task<Dictionary<string, LeasedJob>> ReadEventsAsync(NpgsqlConnection connection, string partition, List<string> ids, CancellationToken cancellationToken)
    {
        var events = new Dictionary<string, LeasedJob>(StringComparer.Ordinal);
        try
        {
            await using var command = connection.Command($"SELECT id, tenant, endpoint, event_type, received_at, headers, body FROM {Table(partition)} WHERE id = ANY(@ids)").WithTexts("@ids", ids);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var id = reader.GetString(0);
                events[id] = new LeasedJob("", id, "", reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                    reader.GetFieldValue<DateTimeOffset>(4), reader.GetString(5), reader.GetFieldValue<byte[]>(6), 0, default);
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            // Dropped by retention.
        }
        return events;
    }

    public override async Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        var (events, flows) = Split(jobIds);
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.Command("DELETE FROM ingester_jobs WHERE edge IN (@edge, '') AND (event_id, flow) IN (SELECT * FROM unnest(@events, @flows))").With("@edge", Options.Edge).WithTexts("@events", events).WithTexts("@flows", flows);
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public override async Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        var (events, flows) = Split(jobIds);
        await using (var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false))
        await using (var command = connection.Command("UPDATE ingester_jobs SET leased_until = '-infinity' WHERE edge IN (@edge, '') AND (event_id, flow) IN (SELECT * FROM unnest(@events, @flows))").With("@edge", Options.Edge).WithTexts("@events", events).WithTexts("@flows", flows))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        JobsReady.Notify();
    }

    /// <summary>"{event id}/{flow}" into its parts; an id not of that shape matches no job.</summary>
    private static (List<string> Events, List<string> Flows) Split(IReadOnlyList<string> jobIds)
    {
        var events = new List<string>(jobIds.Count);
        var flows = new List<string>(jobIds.Count);
        foreach (var id in jobIds)
        {
            var slash = id.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0)
            {
                events.Add(id[..slash]);
                flows.Add(id[(slash + 1)..]);
            }
        }
        return (events, flows);
    }

    protected override async ValueTask DisposeStoreAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        await _source.DisposeAsync().ConfigureAwait(false);
    }
}
