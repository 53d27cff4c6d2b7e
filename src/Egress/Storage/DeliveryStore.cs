using System.Data.Common;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Replays;
using static ZenMesh.Egress.Storage.DeliveryRows;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// The delivery store's SQL, written once for SQLite and PostgreSQL (as <c>ControlPlaneDatabase</c>
/// does for the control plane): TEXT and BIGINT columns, times as Unix milliseconds, @name
/// parameters, ON CONFLICT upserts, <c>-&gt;&gt;</c> on JSON. What differs is how a transaction runs
/// (SQLite: the one group-commit writer; PostgreSQL: a pooled connection each), the table names,
/// and choosing what is due: PostgreSQL is shared by several egress instances, which claim what
/// they take, where a SQLite file has one egress.
/// </summary>
/// <remarks>
/// Every query is within the store's tenant (the edge's), so an egress sharing a database with
/// another tenant's reads and changes nothing of theirs.
/// </remarks>
public abstract class DeliveryStore(string tenant, string tablePrefix) : IDeliveryStore
{
    protected string Tenant { get; } = tenant;

    protected string Deliveries { get; } = tablePrefix + "deliveries";

    protected string Attempts { get; } = tablePrefix + "attempts";

    private string Holds { get; } = tablePrefix + "holds";

    private string Replays { get; } = tablePrefix + "replays";

    public abstract string Location { get; }

    /// <summary>The dialect's JSON object builder: json_object, jsonb_build_object.</summary>
    protected abstract string JsonObject { get; }

    /// <summary>What locks a selected row to the transaction's end ("" where the writer is the only one).</summary>
    protected abstract string ForUpdate { get; }

    /// <summary>What else an attempt's outcome clears on its delivery (a claim, where there are claims).</summary>
    protected virtual string AfterAttempt => "";

    /// <summary>Runs <paramref name="work"/> in one transaction and commits it durably.</summary>
    protected abstract Task<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="read"/> on a connection of its own.</summary>
    protected abstract Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken cancellationToken);

    public abstract Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, TimeSpan claim, CancellationToken cancellationToken);

    public abstract Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken);

    public abstract Task<DateTimeOffset?> NextDueAsync(string tenant, string flow, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>A pending delivery "d" that no older pending delivery of its flow with the same ordering key holds back (claimed or not).</summary>
    protected string NotBehind => $"(d.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM {Deliveries} o WHERE o.tenant = d.tenant AND o.flow = d.flow AND o.state = 'pending' AND o.ordering_key = d.ordering_key AND o.seq < d.seq))";

    protected static async Task<List<T>> RowsAsync<T>(DbCommand command, Func<DbDataReader, T> row, CancellationToken cancellationToken)
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

    protected static async Task<int> ExecuteAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<object?> ScalarAsync(DbCommand command, CancellationToken cancellationToken)
    {
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<int> RecordAsync(IReadOnlyList<DeliveryJob> jobs, Func<DeliveryJob, string?> orderingKey, DateTimeOffset now, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        var recorded = 0;
        foreach (var job in jobs)
        {
            recorded += await ExecuteAsync(connection.Command($"""
                INSERT INTO {Deliveries} (job_id, event_id, tenant, flow, endpoint, event_type, received_at, headers, body, state, due_at, recorded_at, ordering_key)
                VALUES (@job, @event, @tenant, @flow, @endpoint, @type, @received, @headers, @body, 'pending', @now, @now, @key)
                ON CONFLICT (job_id) DO NOTHING
                """, transaction)
                .With("@job", job.JobId).With("@event", job.EventId).With("@tenant", job.Tenant).With("@flow", job.Flow).With("@endpoint", job.Endpoint)
                .With("@type", job.EventType.Length > 0 ? job.EventType : null).With("@received", Ms(job.ReceivedAt?.ToDateTimeOffset() ?? now))
                .With("@headers", Headers(job.Headers)).With("@body", job.Body.ToByteArray()).With("@now", Ms(now)).With("@key", orderingKey(job)), cancellationToken).ConfigureAwait(false);
        }
        return recorded;
    }, cancellationToken);

    public Task FinishAttemptAsync(AttemptResult result, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        var a = result.Attempt;
        await ExecuteAsync(connection.Command($"""
            INSERT INTO {Attempts} ({AttemptColumns}) VALUES (@job, @n, @at, @status, @latency, @outcome, @fault, @detail, @snippet, @via)
            ON CONFLICT (job_id, n) DO UPDATE SET at = excluded.at, status = excluded.status, latency_ms = excluded.latency_ms, outcome = excluded.outcome,
                fault = excluded.fault, detail = excluded.detail, snippet = excluded.snippet, via = excluded.via
            """, transaction)
            .With("@job", a.JobId).With("@n", a.Number).With("@at", Ms(a.At)).With("@status", a.Status).With("@outcome", a.Outcome).With("@fault", a.Fault)
            .With("@detail", a.Detail).With("@snippet", a.Snippet).With("@via", a.Via).WithReal("@latency", a.LatencyMs), cancellationToken).ConfigureAwait(false);
        var finished = result.State == DeliveryStates.Pending ? (long?)null : Ms(a.At);
        return await ExecuteAsync(connection.Command($"""
            UPDATE {Deliveries} SET attempts = @n, failures = failures + @failure, state = @state, due_at = @due,
                first_attempt_at = COALESCE(first_attempt_at, @at), finished_at = @finished,
                last_status = @status, last_outcome = @outcome, last_fault = @fault{AfterAttempt}
            WHERE job_id = @job
            """, transaction)
            .With("@job", a.JobId).With("@n", a.Number).With("@failure", result.CountsAsFailure ? 1 : 0).With("@state", result.State).With("@due", Ms(result.DueAt))
            .With("@at", Ms(a.At)).With("@finished", finished).With("@status", a.Status).With("@outcome", a.Outcome).With("@fault", a.Fault), cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<IReadOnlyList<(long Seq, Delivery Delivery)>> QueryAsync(DeliveryQuery query, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<(long, Delivery)>>(async connection =>
    {
        var (where, command) = Where(connection, query, Tenant);
        command.CommandText = $"SELECT {Columns} FROM {Deliveries} WHERE {where} AND seq > @after ORDER BY seq LIMIT @limit";
        command.With("@after", query.AfterSeq).With("@limit", (long)query.Limit);
        return await RowsAsync(command, DeliveryRows.Delivery, cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<Delivery?> GetAsync(string jobId, CancellationToken cancellationToken) => ReadAsync(async connection =>
        await RowsAsync(connection.Command($"SELECT {Columns} FROM {Deliveries} WHERE job_id = @job AND tenant = @scope").With("@job", jobId).With("@scope", Tenant), DeliveryRows.Delivery, cancellationToken).ConfigureAwait(false)
            is [var (_, delivery)] ? delivery : null, cancellationToken);

    public Task<IReadOnlyList<Attempt>> AttemptsAsync(string jobId, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Attempt>>(async connection =>
        await RowsAsync(connection.Command($"SELECT {AttemptColumns} FROM {Attempts} WHERE job_id = @job AND EXISTS (SELECT 1 FROM {Deliveries} d WHERE d.job_id = @job AND d.tenant = @scope) ORDER BY n").With("@job", jobId).With("@scope", Tenant), DeliveryRows.Attempt, cancellationToken).ConfigureAwait(false),
        cancellationToken);

    public Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>> CountsAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>>>(async connection =>
        CountsByFlow(await RowsAsync(connection.Command($"SELECT tenant, flow, state, COUNT(*) FROM {Deliveries} WHERE tenant = @scope GROUP BY tenant, flow, state").With("@scope", Tenant),
            r => (r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3)), cancellationToken).ConfigureAwait(false)), cancellationToken);

    public Task HoldAsync(DeliveryHold hold, CancellationToken cancellationToken) => InTransactionAsync((connection, transaction) =>
        ExecuteAsync(connection.Command($"INSERT INTO {Holds} (tenant, flow, reason, at) VALUES (@tenant, @flow, @reason, @at) ON CONFLICT (tenant, flow) DO UPDATE SET reason = excluded.reason, at = excluded.at", transaction)
            .With("@tenant", hold.Tenant).With("@flow", hold.Flow).With("@reason", hold.Reason).With("@at", Ms(hold.At)), cancellationToken), cancellationToken);

    public Task<bool> ResumeAsync(string tenant, string flow, DateTimeOffset now, CancellationToken cancellationToken) => tenant != Tenant ? Task.FromResult(false) : InTransactionAsync(async (connection, transaction) =>
    {
        var held = await ExecuteAsync(connection.Command($"DELETE FROM {Holds} WHERE tenant = @tenant AND flow = @flow", transaction).With("@tenant", tenant).With("@flow", flow), cancellationToken).ConfigureAwait(false) > 0;
        if (held)
        {
            await ExecuteAsync(connection.Command($"UPDATE {Deliveries} SET due_at = @now WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND due_at > @now", transaction)
                .With("@tenant", tenant).With("@flow", flow).With("@now", Ms(now)), cancellationToken).ConfigureAwait(false);
        }
        return held;
    }, cancellationToken);

    public Task<IReadOnlyList<DeliveryHold>> HoldsAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<DeliveryHold>>(async connection =>
        await RowsAsync(connection.Command($"SELECT tenant, flow, reason, at FROM {Holds} WHERE tenant = @scope ORDER BY tenant, flow").With("@scope", Tenant),
            r => new DeliveryHold(r.GetString(0), r.GetString(1), r.GetString(2), Time(r.GetInt64(3))), cancellationToken).ConfigureAwait(false), cancellationToken);

    public Task<IReadOnlyDictionary<string, long>> PendingAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyDictionary<string, long>>(async connection =>
        // The literal 'pending' lets the count come from the partial due-time index alone.
        (await RowsAsync(connection.Command($"SELECT tenant, flow, COUNT(*) FROM {Deliveries} WHERE state = 'pending' AND tenant = @scope GROUP BY tenant, flow").With("@scope", Tenant),
            r => ($"{r.GetString(0)}/{r.GetString(1)}", r.GetInt64(2)), cancellationToken).ConfigureAwait(false)).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal), cancellationToken);

    public Task<IReadOnlyList<(string Flow, string State, long Count)>> CountAsync(DeliveryQuery query, CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<(string, string, long)>>(async connection =>
    {
        var (where, command) = Where(connection, query, Tenant);
        command.CommandText = $"SELECT tenant, flow, state, COUNT(*) FROM {Deliveries} WHERE {where} GROUP BY tenant, flow, state ORDER BY tenant, flow, state";
        return await RowsAsync(command, r => ($"{r.GetString(0)}/{r.GetString(1)}", r.GetString(2), r.GetInt64(3)), cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<Replay> CreateReplayAsync(string id, DeliveryQuery filter, DateTimeOffset now, CancellationToken cancellationToken) => InTransactionAsync(async (connection, transaction) =>
    {
        var upTo = (long)(await ScalarAsync(connection.Command($"SELECT COALESCE(MAX(seq), 0) FROM {Deliveries}", transaction), cancellationToken).ConfigureAwait(false))!;
        var (where, command) = Where(connection, filter, Tenant);
        command.CommandText = $"SELECT COUNT(*) FROM {Deliveries} WHERE {where} AND seq <= @upto";
        command.Transaction = transaction;
        var matched = (long)(await ScalarAsync(command.With("@upto", upTo), cancellationToken).ConfigureAwait(false))!;
        await ExecuteAsync(connection.Command($"INSERT INTO {Replays} (id, filter, up_to_seq, matched, state, created_at, tenant) VALUES (@id, @filter, @upto, @matched, @state, @now, @scope)", transaction)
            .With("@scope", Tenant).With("@id", id).With("@filter", Filter(filter)).With("@upto", upTo).With("@matched", matched).With("@state", ReplayStates.Running).With("@now", Ms(now)), cancellationToken).ConfigureAwait(false);
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
        var (where, command) = Where(connection, replay.Filter, Tenant);
        command.CommandText = ReplayBatch(Deliveries, JsonObject, where);
        command.Transaction = transaction;
        command.With("@id", id).With("@now", Ms(now)).With("@cursor", replay.Cursor).With("@upto", replay.UpToSeq).With("@max", (long)max);
        var queued = await RowsAsync(command, r => (Seq: r.GetInt64(0), Tenant: r.GetString(1), Flow: r.GetString(2)), cancellationToken).ConfigureAwait(false);
        var done = queued.Count < max;
        var cursor = done ? replay.UpToSeq : queued.Max(q => q.Seq);
        await ExecuteAsync(connection.Command($"UPDATE {Replays} SET queued = queued + @queued, cursor = @cursor, state = @state, finished_at = @finished WHERE id = @id", transaction)
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
        var withdrawn = await ExecuteAsync(connection.Command($"""
            UPDATE {Deliveries} SET state = replay_prior->>'state', failures = CAST(replay_prior->>'failures' AS INTEGER),
                first_attempt_at = CAST(replay_prior->>'first' AS BIGINT), finished_at = CAST(replay_prior->>'finished' AS BIGINT),
                due_at = CAST(replay_prior->>'due' AS BIGINT), replay_id = NULL, replay_prior = NULL
            WHERE replay_id = @id AND state = 'pending' AND first_attempt_at IS NULL
            """, transaction).With("@id", id), cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection.Command($"UPDATE {Replays} SET state = @state, finished_at = @now, withdrawn = @withdrawn WHERE id = @id", transaction)
            .With("@id", id).With("@state", ReplayStates.Cancelled).With("@now", Ms(now)).With("@withdrawn", withdrawn), cancellationToken).ConfigureAwait(false);
        return await ReplayAsync(connection, transaction, id, lockIt: false, cancellationToken).ConfigureAwait(false);
    }, cancellationToken);

    public Task<Replay?> GetReplayAsync(string id, CancellationToken cancellationToken) => ReadAsync(connection => ReplayAsync(connection, null, id, lockIt: false, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<Replay>> ReplaysAsync(CancellationToken cancellationToken) => ReadAsync<IReadOnlyList<Replay>>(async connection =>
        await RowsAsync(connection.Command($"SELECT {ReplayColumns} FROM {Replays} WHERE tenant IN (@scope, '') ORDER BY created_at DESC, id").With("@scope", Tenant), DeliveryRows.Replay, cancellationToken).ConfigureAwait(false), cancellationToken);

    // A replay from before replays named their tenant ('') is the edge's own: one edge per store then.
    private async Task<Replay?> ReplayAsync(DbConnection connection, DbTransaction? transaction, string id, bool lockIt, CancellationToken cancellationToken) =>
        await RowsAsync(connection.Command($"SELECT {ReplayColumns} FROM {Replays} WHERE id = @id AND tenant IN (@scope, ''){(lockIt ? ForUpdate : "")}", transaction).With("@id", id).With("@scope", Tenant), DeliveryRows.Replay, cancellationToken).ConfigureAwait(false)
            is [var replay] ? replay : null;
}
