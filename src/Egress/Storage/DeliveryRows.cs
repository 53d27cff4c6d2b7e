using System.Data.Common;
using System.Text;
using System.Text.Json;
using ZenMesh.Egress.Replays;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// What the SQLite and PostgreSQL delivery stores share: the columns, their mapping to records, and
/// the filter of a delivery query. Both keep times as Unix milliseconds, so the same SQL orders and
/// compares them, and the same rows read back the same.
/// </summary>
internal static class DeliveryRows
{
    public const string Columns = "seq, job_id, event_id, tenant, flow, endpoint, event_type, received_at, headers, body, state, attempts, failures, due_at, first_attempt_at, recorded_at, finished_at, last_status, last_outcome, last_fault";

    public const string AttemptColumns = "job_id, n, at, status, latency_ms, outcome, fault, detail, snippet, via";

    public const string ReplayColumns = "id, filter, up_to_seq, matched, queued, cursor, state, created_at, finished_at, withdrawn";

    public static long Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds();

    public static DateTimeOffset Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    /// <summary>A job's headers as stored: one JSON object.</summary>
    public static string Headers(IEnumerable<KeyValuePair<string, string>> headers) => JsonSerializer.Serialize(headers.ToDictionary(h => h.Key, h => h.Value));

    /// <summary>
    /// The filter of a query, with its parameters bound to a new command, within <paramref name="scope"/>:
    /// the store's own tenant, so an egress sharing a database with another tenant's selects nothing of theirs.
    /// </summary>
    public static (string Where, DbCommand Command) Where(DbConnection connection, DeliveryQuery query, string scope)
    {
        var command = connection.CreateCommand();
        var where = new StringBuilder("tenant = @scope");
        command.With("@scope", scope);
        void Add(string clause, string name, object value)
        {
            where.Append(" AND ").Append(clause);
            _ = value is long l ? command.With(name, l) : command.With(name, (string)value);
        }
        if (query.Tenant is { } tenant) Add("tenant = @tenant", "@tenant", tenant);
        if (query.Flow is { } flow) Add("flow = @flow", "@flow", flow);
        if (query.Flows is { } flows)
        {
            // An empty list selects nothing, as a target with no flows has no deliveries.
            where.Append(" AND (tenant || '/' || flow) IN (").AppendJoin(", ", flows.Select((_, i) => $"@flows{i}").DefaultIfEmpty("NULL")).Append(')');
            for (var i = 0; i < flows.Count; i++)
            {
                command.With($"@flows{i}", flows[i]);
            }
        }
        if (query.State is { } state) Add("state = @state", "@state", state);
        if (query.Fault is { } fault) Add("last_fault = @fault", "@fault", fault);
        if (query.Replay is { } replay) Add("replay_id = @replay", "@replay", replay);
        if (query.EventId is { } eventId) Add("event_id = @event", "@event", eventId);
        if (query.Since is { } since) Add("received_at >= @since", "@since", Ms(since));
        if (query.Until is { } until) Add("received_at < @until", "@until", Ms(until));
        return (where.ToString(), command);
    }

    /// <summary>The row under the reader, selected with <see cref="Columns"/>.</summary>
    public static (long Seq, Delivery Delivery) Delivery(DbDataReader reader) => (reader.GetInt64(0), new Delivery(
        JobId: reader.GetString(1), EventId: reader.GetString(2), Tenant: reader.GetString(3), Flow: reader.GetString(4), Endpoint: reader.GetString(5),
        EventType: Text(reader, 6), ReceivedAt: Time(reader.GetInt64(7)),
        Headers: JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(8)) ?? [],
        Body: (byte[])reader.GetValue(9), State: reader.GetString(10), Attempts: reader.GetInt32(11), Failures: reader.GetInt32(12),
        DueAt: Time(reader.GetInt64(13)), FirstAttemptAt: TimeOrNull(reader, 14), RecordedAt: Time(reader.GetInt64(15)),
        FinishedAt: TimeOrNull(reader, 16), LastStatus: reader.IsDBNull(17) ? null : reader.GetInt32(17),
        LastOutcome: Text(reader, 18), LastFault: Text(reader, 19)));

    /// <summary>The row under the reader, selected with <see cref="AttemptColumns"/>.</summary>
    public static Attempt Attempt(DbDataReader reader) => new(
        reader.GetString(0), reader.GetInt32(1), Time(reader.GetInt64(2)), reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.GetDouble(4),
        reader.GetString(5), Text(reader, 6), Text(reader, 7), Text(reader, 8), reader.GetString(9));

    /// <summary>The row under the reader, selected with <see cref="ReplayColumns"/>.</summary>
    public static Replay Replay(DbDataReader reader) => new(
        reader.GetString(0), JsonSerializer.Deserialize<DeliveryQuery>(reader.GetString(1))!, reader.GetInt64(2), reader.GetInt64(3),
        reader.GetInt64(4), reader.GetInt64(5), reader.GetString(6), Time(reader.GetInt64(7)), TimeOrNull(reader, 8), reader.GetInt64(9));

    /// <summary>
    /// Queues a replay's next batch again and returns what it took (seq, tenant, flow): <paramref name="jsonObject"/> is the
    /// dialect's json_object or jsonb_build_object. What each delivery was is kept beside it, so a cancel can put back what
    /// was queued and not yet attempted.
    /// </summary>
    public static string ReplayBatch(string table, string jsonObject, string where) => $"""
        UPDATE {table} SET replay_id = @id,
            replay_prior = {jsonObject}('state', state, 'failures', failures, 'first', first_attempt_at, 'finished', finished_at, 'due', due_at),
            state = 'pending', due_at = @now, failures = 0, first_attempt_at = NULL, finished_at = NULL
        WHERE seq IN (SELECT seq FROM {table} WHERE {where} AND seq > @cursor AND seq <= @upto ORDER BY seq LIMIT @max)
        RETURNING seq, tenant, flow
        """;

    /// <summary>A replay's filter as stored: paging has no meaning there.</summary>
    public static string Filter(DeliveryQuery filter) => JsonSerializer.Serialize(filter with { AfterSeq = 0, Limit = 0 });

    /// <summary>Per flow "{tenant}/{flow}", a count for every state (zero where none).</summary>
    public static Dictionary<string, IReadOnlyDictionary<string, long>> CountsByFlow(IEnumerable<(string Tenant, string Flow, string State, long Count)> rows)
    {
        var counts = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        foreach (var (tenant, flow, state, count) in rows)
        {
            var key = $"{tenant}/{flow}";
            if (!counts.TryGetValue(key, out var states))
            {
                counts[key] = states = DeliveryStates.All.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
            }
            states[state] = count;
        }
        return counts.ToDictionary(c => c.Key, c => (IReadOnlyDictionary<string, long>)c.Value, StringComparer.Ordinal);
    }

    public static string? Text(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : reader.GetString(i);

    private static DateTimeOffset? TimeOrNull(DbDataReader reader, int i) => reader.IsDBNull(i) ? null : Time(reader.GetInt64(i));
}
