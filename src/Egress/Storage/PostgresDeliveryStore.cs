using System.Data.Common;
using Microsoft.Extensions.Options;
using Npgsql;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Hosting;
using static ZenMesh.Egress.Storage.DeliveryRows;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// Deliveries in PostgreSQL, shared by several egress instances. What one instance takes to
/// attempt it claims (a row lock while choosing, FOR UPDATE SKIP LOCKED, then a claim time on the
/// row), so two instances never attempt the same delivery at once; an instance that dies leaves
/// claims that lapse after the flow's timeout and a margin, and another instance takes them then.
/// Holds, replays and the delivery log live here too, so every instance sees the same ones.
/// Commits are PostgreSQL's (it groups concurrent ones itself). The rest of the SQL is
/// <see cref="DeliveryStore"/>'s, the same as the embedded store's.
/// </summary>
public sealed class PostgresDeliveryStore : DeliveryStore
{
    // Serialises CREATE TABLE across instances starting together (it is not safe to race).
    private const long SchemaLock = 0x7a6d_6567_7265_7373;
    private readonly NpgsqlDataSource _source;

    /// <summary>Who holds a claim: this process, for the delivery log and for releasing only its own claims.</summary>
    private readonly string _instance = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    public PostgresDeliveryStore(IOptions<EgressOptions> options)
        : base(options.Value.Edge.Split('/')[0], "egress_")
    {
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

    public override string Location { get; }

    protected override string JsonObject => "jsonb_build_object";

    protected override string ForUpdate => " FOR UPDATE";

    protected override string AfterAttempt => ", claimed_until = 0, claimed_by = NULL";

    protected override async Task<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var result = await work(connection, transaction).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    protected override async Task<T> ReadAsync<T>(Func<DbConnection, Task<T>> read, CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await read(connection).ConfigureAwait(false);
    }

    public override Task<IReadOnlyList<Delivery>> DueAsync(string tenant, string flow, DateTimeOffset now, int max, IReadOnlySet<string> skip, TimeSpan claim, CancellationToken cancellationToken) => InTransactionAsync<IReadOnlyList<Delivery>>(async (connection, transaction) =>
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

    public override Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken) => jobIds.Count == 0 ? Task.CompletedTask : ReadAsync(connection =>
        ExecuteAsync(connection.Command("UPDATE egress_deliveries SET claimed_until = 0, claimed_by = NULL WHERE job_id = ANY(@jobs) AND claimed_by = @me")
            .WithTexts("@jobs", jobIds).With("@me", _instance), cancellationToken), cancellationToken);

    public override Task<DateTimeOffset?> NextDueAsync(string tenant, string flow, CancellationToken cancellationToken) => ReadAsync(async connection =>
    {
        // A claimed delivery is next due when its claim lapses, if the instance holding it never reports.
        var command = connection.Command($"SELECT MIN(GREATEST(due_at, claimed_until)) FROM egress_deliveries d WHERE tenant = @tenant AND flow = @flow AND state = 'pending' AND {NotBehind}")
            .With("@tenant", tenant).With("@flow", flow);
        await using (command.ConfigureAwait(false))
        {
            return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long ms ? Time(ms) : (DateTimeOffset?)null;
        }
    }, cancellationToken);

    public override ValueTask DisposeAsync() => _source.DisposeAsync();
}
