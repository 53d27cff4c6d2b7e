using System.Data.Common;
using Microsoft.Extensions.Options;
using Npgsql;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Replays;
using static ZenMesh.Egress.Storage.DeliveryRows;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// Deliveries in PostgreSQL, shared by several egress instances. What one instance takes to
/// attempt it claims (a row lock while choosing, FOR UPDATE SKIP LOCKED, then a claim time on the
/// row), so two instances never attempt the same delivery at once; an instance that dies leaves
/// claims that lapse after the flow's timeout and a margin, and another instance takes them then.
/// Holds, replays and the delivery log live here too, so every instance sees the same ones.
/// Commits are PostgreSQL's (it groups concurrent ones itself); times are Unix milliseconds, as
/// in the embedded store.
/// </summary>
public sealed class PostgresDeliveryStore : IDeliveryStore
{
    // Serialises CREATE TABLE across instances starting together (it is not safe to race).
    private const long SchemaLock = 0x7a6d_6567_7265_7373;
    private readonly NpgsqlDataSource _source;

    /// <summary>Who holds a claim: this process, for the delivery log and for releasing only its own claims.</summary>
    private readonly string _instance = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>The tenant of this egress's edge: every query is within it (the database may hold other tenants' deliveries).</summary>
    private readonly string _tenant;

    public PostgresDeliveryStore(IOptions<EgressOptions> options)
    {
        _tenant = options.Value.Edge.Split('/')[0];
        var builder = new NpgsqlConnectionStringBuilder(options.Value.Postgres);
        Location = $"postgres://{builder.Host}:{builder.Port}/{builder.Database}";
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
        using var connection = _source.OpenConnection();
        ZenMesh.Data.PostgresDurability.RequireSynchronousCommit(connection, $"user '{builder.Username}' on database '{builder.Database}' at {builder.Host}", "the egress acknowledges a job to the ingester (which then forgets it) only once it is stored to survive a crash");
        using var transaction = connection.BeginTransaction();
        connection.Command("SELECT pg_advisory_xact_lock(@lock)", transaction).With("@lock", SchemaLock).ExecuteNonQuery();
        connection.Command("""
            CREATE TABLE IF NOT EXISTS egress_deliveries (
                seq BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL UNIQUE, event_id TEXT NOT NULL,
                tenant TEXT NOT NULL, flow TEXT NOT NULL, endpoint TEXT NOT NULL, event_type TEXT,
                received_at BIGINT NOT NULL, headers TEXT NOT NULL, body BYTEA NOT NULL,
                state TEXT NOT NULL, attempts INT NOT NULL DEFAULT 0, failures INT NOT NULL DEFAULT 0,
                due_at BIGINT NOT NULL, first_attempt_at BIGINT, recorded_at BIGINT NOT NULL, finished_at BIGINT,
                last_status INT, last_outcome TEXT, last_fault TEXT, replay_id TEXT, replay_prior JSONB, ordering_key TEXT,
                claimed_until BIGINT NOT NULL DEFAULT 0, claimed_by TEXT);
            CREATE INDEX IF NOT EXISTS egress_deliveries_due ON egress_deliveries (tenant, flow, due_at) WHERE state = 'pending';
            CREATE INDEX IF NOT EXISTS egress_deliveries_order ON egress_deliveries (tenant, flow, ordering_key, seq) WHERE state = 'pending' AND ordering_key IS NOT NULL;
            CREATE INDEX IF NOT EXISTS egress_deliveries_received ON egress_deliveries (tenant, flow, received_at);
            CREATE INDEX IF NOT EXISTS egress_deliveries_event ON egress_deliveries (event_id);
            CREATE INDEX IF NOT EXISTS egress_deliveries_replay ON egress_deliveries (replay_id) WHERE replay_id IS NOT NULL;
            CREATE TABLE IF NOT EXISTS egress_attempts (
                job_id TEXT NOT NULL, n INT NOT NULL, at BIGINT NOT NULL, status INT, latency_ms DOUBLE PRECISION NOT NULL,
                outcome TEXT NOT NULL, fault TEXT, detail TEXT, snippet TEXT, via TEXT NOT NULL, PRIMARY KEY (job_id, n));
            CREATE TABLE IF NOT EXISTS egress_holds (tenant TEXT NOT NULL, flow TEXT NOT NULL, reason TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (tenant, flow));
            CREATE TABLE IF NOT EXISTS egress_replays (
                id TEXT PRIMARY KEY, filter TEXT NOT NULL, up_to_seq BIGINT NOT NULL, matched BIGINT NOT NULL, queued BIGINT NOT NULL DEFAULT 0,
                cursor BIGINT NOT NULL DEFAULT 0, state TEXT NOT NULL, created_at BIGINT NOT NULL, finished_at BIGINT, withdrawn BIGINT NOT NULL DEFAULT 0);
            ALTER TABLE egress_replays ADD COLUMN IF NOT EXISTS tenant TEXT NOT NULL DEFAULT '';
            """, transaction).ExecuteNonQuery();
        transaction.Commit();
    }

    public string Location { get; }

    private async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var result = await work(connection, transaction).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    private async Task<T> ReadAsync<T>(Func<NpgsqlConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await read(connection).ConfigureAwait(false);
    }

    private static async Task<List<T>> RowsAsync<T>(DbCommand command, Func<DbDataReader, T> row, CancellationToken cancellationToken)
    {
        await using (command.ConfigureAwait(false))
        {
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<T>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(row(reader));
                }
                return rows;
            }
        }
    }

    private static async Task<int> ExecuteAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<int> RecordAsync(IReadOnlyList<DeliveryJob> jobs, Func<DeliveryJob, string?> orderingKey, DateTimeOffset now, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        var recorded = 0;
        foreach (var job in jobs)
        {
            recorded += await ExecuteAsync(connection.Command("""
                INSERT INTO egress_deliveries (job_id, event_id, tenant, flow, endpoint, event_type, received_at, headers, body, state, due_at, recorded_at, ordering_key)
                VALUES (@job, @event, @tenant, @flow, @endpoint, @type, @received, @headers, @body, 'pending', @now, @now, @key)
                ON CONFLICT (job_id) DO NOTHING
                """, transaction)
                .With("@job", job.JobId).With("@event", job.EventId).With("@tenant", job.Tenant).With("@flow", job.Flow).With("@endpoint", job.Endpoint)
                .With("@type", job.EventType.Length > 0 ? job.EventType : null).With("@received", Ms(job.ReceivedAt?.ToDateTimeOffset() ?? now))
                .With("@headers", Headers(job.Headers)).With("@body", job.Body.ToByteArray()).With("@now", Ms(now)).With("@key", orderingKey(job)), cancellationToken).ConfigureAwait(false);
        }
        return recorded;
    }, cancellationToken);

    /// <summary>A pending delivery "d" that no older pending delivery of its flow with the same ordering key holds back (claimed or not).</summary>
    private const string NotBehind = "(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM egress_deliveries o WHERE o.tenant = d.tenant AND o.flow = d.flow AND o.state = 'pending' AND o.ordering_key = d.ordering_key AND o.seq < d.seq))";

    public Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, TimeSpan claim, CancellationToken cancellationToken) => InTransactionAsync<IReadOnlyList<Delivery>>(async (connection, transaction) =>
    {
        // SKIP LOCKED: rows another instance is claiming right now are passed over, not waited for.
        var command = connection.Command($"""
            UPDATE egress_deliveries u SET claimed_until = @until, claimed_by = @me
            FROM (SELECT seq AS chosen FROM egress_deliveries d
                  WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND due_at <= @now AND claimed_until <= @now
                    AND NOT (job_id = ANY(@skip)) AND {NotBehind}
                  ORDER BY due_at, seq LIMIT @limit FOR UPDATE SKIP LOCKED) due
            WHERE u.seq = due.chosen
            RETURNING {Columns}
            """, transaction)
            .With("@tenant", tenant).With("@flow", flow).With("@now", Ms(now)).With("@until", Ms(now + claim)).With("@me", _instance)
            .WithTexts("@skip", [.. skip]).With("@limit", (long)max);
        var claimed = await RowsAsync(command, DeliveryRows.Delivery, cancellationToken).ConfigureAwait(false);
        return [.. claimed.OrderBy(r => r.Delivery.DueAt).ThenBy(r => r.Seq).Select(r => r.Delivery)];
    }, cancellationToken);

    public Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken) => jobIds.Count == 0 ? Task.CompletedTask : ReadAsync(connection =>
        ExecuteAsync(connection.Command("UPDATE egress_deliveries SET claimed_until = 0, claimed_by = NULL WHERE job_id = ANY(@jobs) AND claimed_by = @me")
            .WithTexts("@jobs", jobIds).With("@me", _instance), cancellationToken), cancellationToken);

    public Task<DateTimeOffset?> NextDueAsync(string tenant, string flow, CancellationToken cancellationToken) => ReadAsync(async connection =>
    {
        // A claimed delivery is next due when its claim lapses, if the instance holding it never reports.
        var command = connection.Command($"SELECT MIN(GREATEST(due_at, claimed_until)) FROM egress_deliveries d WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND {NotBehind}")
            .With("@tenant", tenant).With("@flow", flow);
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ms ? Time(ms) : (DateTimeOffset?)null;
        }
    }, cancellationToken);

    public Task FinishAttemptAsync(AttemptResult result, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        var a = result.Attempt;
        await ExecuteAsync(connection.Command($"""
            INSERT INTO egress_attempts ({AttemptColumns}) VALUES (@job, @n, @at, @status, @latency, @outcome, @fault, @detail, @snippet, @via)
            ON CONFLICT (job_id, n) DO UPDATE SET at = excluded.at, status = excluded.status, latency_ms = excluded.latency_ms, outcome = excluded.outcome,
                fault = excluded.fault, detail = excluded.detail, snippet = excluded.snippet, via = excluded.via
            """, transaction)
            .With("@job", a.JobId).With("@n", a.Number).With("@at", Ms(a.At)).With("@status", a.Status).With("@outcome", a.Outcome).With("@fault", a.Fault)
            .With("@detail", a.Detail).With("@snippet", a.Snippet).With("@via", a.Via).WithReal("@latency", a.LatencyMs), cancellationToken).ConfigureAwait(false);
        var finished = result.State == DeliveryStates.Pending ? (long?)null : Ms(a.At);
        return await ExecuteAsync(connection.Command("""
            UPDATE egress_deliveries SET attempts = @n, failures = failures + @failure, state = @state, due_at = @due,
                first_attempt_at = COALESCE(first_attempt_at, @at), finished_at = @finished,
                last_status = @status, last_outcome = @outcome, last_fault = @fault, claimed_until = 0, claimed_by = NULL
            WHERE job_id = @job
            """, transaction)
            .With("@job", a.JobId).With("@n", a.Number).With("@failure", result.CountsAsFailure ? 1 : 0).With("@state", result.State).With("@due", Ms(result.DueAt))
            .With("@at", Ms(a.At)).With("@finished", finished).With("@status", a.Status).With("@outcome", a.Outcome).With("@fault", a.Fault), cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<IReadOnlyList<(long Seq, Delivery Delivery)>> QueryAsync(DeliveryQuery query, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<(long, Delivery)>>(async connection =>
    {
        var (where, command) = Where(connection, query, _tenant);
        command.CommandText = $"SELECT {Columns} FROM egress_deliveries WHERE {where} AND seq > @after ORDER BY seq LIMIT @limit";
        command.With("@after", query.AfterSeq).With("@limit", (long)query.Limit);
        return await RowsAsync(command, DeliveryRows.Delivery, cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<Delivery?> GetAsync(string jobId, CancellationToken cancellationToken) => ReadAsync(async connection =>
        await RowsAsync(connection.Command($"SELECT {Columns} FROM egress_deliveries WHERE job_id = @job AND tenant = @scope").With("@job", jobId).With("@scope", _tenant), DeliveryRows.Delivery, cancellationToken).ConfigureAwait(false)
            is [var (_, delivery)] ? delivery : null, cancellationToken);

    public Task<IReadOnlyList<Attempt>> AttemptsAsync(string jobId, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Attempt>>(async connection =>
        await RowsAsync(connection.Command($"SELECT {AttemptColumns} FROM egress_attempts WHERE job_id = @job AND EXISTS (SELECT 1 FROM egress_deliveries d WHERE d.job_id = @job AND d.tenant = @scope) ORDER BY n").With("@job", jobId).With("@scope", _tenant), DeliveryRows.Attempt, cancellationToken).ConfigureAwait(false),
        cancellationToken);

    public Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>> CountsAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>>(async connection =>
        CountsByFlow(await RowsAsync(connection.Command("SELECT tenant, flow, state, COUNT(*) FROM egress_deliveries WHERE tenant = @scope GROUP BY tenant, flow, state").With("@scope", _tenant),
            r => (r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3)), cancellationToken).ConfigureAwait(false)), cancellationToken);

    public Task HoldAsync(DeliveryHold hold, CancellationToken cancellationToken) => ReadAsync(connection =>
        ExecuteAsync(connection.Command("INSERT INTO egress_holds (tenant, flow, reason, at) VALUES (@tenant, @flow, @reason, @at) ON CONFLICT (tenant, flow) DO UPDATE SET reason = excluded.reason, at = excluded.at")
            .With("@tenant", hold.Tenant).With("@flow", hold.Flow).With("@reason", hold.Reason).With("@at", Ms(hold.At)), cancellationToken), cancellationToken);

    public Task<bool> ResumeAsync(string tenant, string flow, DateTimeOffset now, CancellationToken cancellationToken) => tenant != _tenant ? Task.FromResult(false) : InTransactionAsync(async (connection, transaction) =>
    {
        var held = await ExecuteAsync(connection.Command("DELETE FROM egress_holds WHERE tenant = @tenant AND flow = @flow", transaction).With("@tenant", tenant).With("@flow", flow), cancellationToken).ConfigureAwait(false) > 0;
        if (held)
        {
            await ExecuteAsync(connection.Command("UPDATE egress_deliveries SET due_at = @now WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND due_at > @now", transaction)
                .With("@tenant", tenant).With("@flow", flow).With("@now", Ms(now)), cancellationToken).ConfigureAwait(false);
        }
        return held;
    }, cancellationToken);

    public Task<IReadOnlyList<DeliveryHold>> HoldsAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<DeliveryHold>>(async connection =>
        await RowsAsync(connection.Command("SELECT tenant, flow, reason, at FROM egress_holds WHERE tenant = @scope ORDER BY tenant, flow").With("@scope", _tenant),
            r => new DeliveryHold(r.GetString(0), r.GetString(1), r.GetString(2), Time(r.GetInt64(3))), cancellationToken).ConfigureAwait(false), cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> PendingAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyDictionary<string, long>>(async connection =>
        (await RowsAsync(connection.Command("SELECT tenant, flow, COUNT(*) FROM egress_deliveries WHERE state = 'pending' AND tenant = @scope GROUP BY tenant, flow").With("@scope", _tenant),
            r => ($"{r.GetString(0)}/{r.GetString(1)}", r.GetInt64(2)), cancellationToken).ConfigureAwait(false)).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal), cancellationToken);

    public Task<IReadOnlyList<(string Flow, string State, long Count)>> CountAsync(DeliveryQuery query, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<(string, string, long)>>(async connection =>
    {
        var (where, command) = Where(connection, query, _tenant);
        command.CommandText = $"SELECT tenant, flow, state, COUNT(*) FROM egress_deliveries WHERE {where} GROUP BY tenant, flow, state ORDER BY tenant, flow, state";
        return await RowsAsync(command, r => ($"{r.GetString(0)}/{r.GetString(1)}", r.GetString(2), r.GetInt64(3)), cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<Replay> CreateReplayAsync(string id, DeliveryQuery filter, DateTimeOffset now, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        var upTo = (long)(await connection.Command("SELECT COALESCE(MAX(seq), 0) FROM egress_deliveries", transaction).ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        var (where, command) = Where(connection, filter, _tenant);
        command.CommandText = $"SELECT COUNT(*) FROM egress_deliveries WHERE {where} AND seq <= @upto";
        command.Transaction = transaction;
        var matched = (long)(await command.With("@upto", upTo).ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        await command.DisposeAsync().ConfigureAwait(false);
        await ExecuteAsync(connection.Command("INSERT INTO egress_replays (id, filter, up_to_seq, matched, state, created_at, tenant) VALUES (@id, @filter, @upto, @matched, @state, @now, @scope)", transaction)
            .With("@scope", _tenant).With("@id", id).With("@filter", Filter(filter)).With("@upto", upTo).With("@matched", matched).With("@state", ReplayStates.Running).With("@now", Ms(now)), cancellationToken).ConfigureAwait(false);
        return (await ReplayAsync(connection, transaction, id, lockIt: false, cancellationToken).ConfigureAwait(false))!;
    }, cancellationToken);

    public Task<(Replay Replay, IReadOnlyList<(string Tenant, string Flow)> Flows)> ReplayBatchAsync(string id, int max, DateTimeOffset now, CancellationToken cancellationToken) => InTransactionAsync<(Replay, IReadOnlyList<(string, string)>)>(async (connection, transaction) =>
    {
        // The replay's row stays locked to the commit, so two instances running it take turns at its cursor.
        var replay = await ReplayAsync(connection, transaction, id, lockIt: true, cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException($"no replay '{id}'");
        if (replay.State != ReplayStates.Running)
        {
            return (replay, []);
        }
        var (where, command) = Where(connection, replay.Filter, _tenant);
        command.CommandText = DeliveryRows.ReplayBatch("egress_deliveries", "jsonb_build_object", where);
        command.Transaction = transaction;
        command.With("@id", id).With("@now", Ms(now)).With("@cursor", replay.Cursor).With("@upto", replay.UpToSeq).With("@max", (long)max);
        var queued = await RowsAsync(command, r => (Seq: r.GetInt64(0), Tenant: r.GetString(1), Flow: r.GetString(2)), cancellationToken).ConfigureAwait(false);
        var done = queued.Count < max;
        var cursor = done ? replay.UpToSeq : queued.Max(q => q.Seq);
        await ExecuteAsync(connection.Command("UPDATE egress_replays SET queued = queued + @queued, cursor = @cursor, state = @state, finished_at = @finished WHERE id = @id", transaction)
            .With("@id", id).With("@queued", queued.Count).With("@cursor", cursor).With("@state", done ? ReplayStates.Done : ReplayStates.Running)
            .With("@finished", done ? Ms(now) : null), cancellationToken).ConfigureAwait(false);
        return ((await ReplayAsync(connection, transaction, id, lockIt: false, cancellationToken).ConfigureAwait(false))!, [.. queued.Select(q => (q.Tenant, q.Flow)).Distinct()]);
    }, cancellationToken);

    public Task<Replay?> CancelReplayAsync(string id, DateTimeOffset now, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        if (await ReplayAsync(connection, transaction, id, lockIt: true, cancellationToken).ConfigureAwait(false) is not { } replay || replay.State == ReplayStates.Cancelled)
        {
            return await ReplayAsync(connection, transaction, id, lockIt: false, cancellationToken).ConfigureAwait(false);
        }
        // Not attempted since the replay queued it: first_attempt_at is what the replay cleared and every attempt sets.
        var withdrawn = await ExecuteAsync(connection.Command("""
            UPDATE egress_deliveries SET state = replay_prior->>'state', failures = (replay_prior->>'failures')::int,
                first_attempt_at = (replay_prior->>'first')::bigint, finished_at = (replay_prior->>'finished')::bigint,
                due_at = (replay_prior->>'due')::bigint, replay_id = NULL, replay_prior = NULL
            WHERE replay_id = @id AND state = 'pending' AND first_attempt_at IS NULL
            """, transaction).With("@id", id), cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection.Command("UPDATE egress_replays SET state = @state, finished_at = @now, withdrawn = @withdrawn WHERE id = @id", transaction)
            .With("@id", id).With("@state", ReplayStates.Cancelled).With("@now", Ms(now)).With("@withdrawn", withdrawn), cancellationToken).ConfigureAwait(false);
        return await ReplayAsync(connection, transaction, id, lockIt: false, cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<Replay?> GetReplayAsync(string id, CancellationToken cancellationToken) => ReadAsync(connection => ReplayAsync(connection, null, id, lockIt: false, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<Replay>> ReplaysAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Replay>>(async connection =>
        await RowsAsync(connection.Command($"SELECT {ReplayColumns} FROM egress_replays WHERE tenant IN (@scope, '') ORDER BY created_at DESC, id").With("@scope", _tenant), DeliveryRows.Replay, cancellationToken).ConfigureAwait(false), cancellationToken);

    private async Task<Replay?> ReplayAsync(NpgsqlConnection connection, DbTransaction? transaction, string id, bool lockIt, CancellationToken cancellationToken) =>
        await RowsAsync(connection.Command($"SELECT {ReplayColumns} FROM egress_replays WHERE id = @id AND tenant IN (@scope, ''){(lockIt ? " FOR UPDATE" : "")}", transaction).With("@id", id).With("@scope", _tenant), DeliveryRows.Replay, cancellationToken).ConfigureAwait(false)
            is [var replay] ? replay : null;

    public ValueTask DisposeAsync() => _source.DisposeAsync();
}
