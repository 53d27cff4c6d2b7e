using System.Collections.Immutable;
using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

public sealed partial class SqliteEventStore
{
    /// <summary>
    /// The writer's own connection and statements, prepared once: a batch only binds and steps them.
    /// The per-event ones (insert the event, insert its jobs) are raw statements.
    /// </summary>
    private sealed class Statements : IDisposable
    {
        private readonly Dictionary<string, RawStatement> _inserts = new(StringComparer.Ordinal);
        private readonly Dictionary<string, RawStatement> _claims = new(StringComparer.Ordinal);
        private ImmutableSortedSet<string>? _lookupDays;
        private RawStatement? _lookup;

        public Statements(SqliteConnection connection)
        {
            Connection = connection;
            // ?1 event id, ?2 flow, ?3 partition.
            Job = new RawStatement(connection, "INSERT INTO jobs (event_id, flow, partition) VALUES (?1, ?2, ?3)");
            DeleteJob = connection.CreateCommand();
            DeleteJob.CommandText = "DELETE FROM jobs WHERE seq = @seq";
            Seq = DeleteJob.Parameters.Add("@seq", SqliteType.Integer);
        }

        public SqliteConnection Connection { get; }
        public RawStatement Job { get; }
        public SqliteCommand DeleteJob { get; }

        /// <summary>The rowid of the last row inserted on this connection.</summary>
        public long LastInsertRowId => SQLitePCL.raw.sqlite3_last_insert_rowid(Connection.Handle);
        public SqliteParameter Seq { get; }

        /// <summary>
        /// The insert into one day's table, prepared the first time that day is written:
        /// ?1 id, ?2 tenant, ?3 endpoint, ?4 dedup key, ?5 event type, ?6 received at, ?7 headers, ?8 body.
        /// </summary>
        public RawStatement InsertInto(string partition)
        {
            if (!_inserts.TryGetValue(partition, out var insert))
            {
                insert = new RawStatement(Connection, $"INSERT INTO {Table(partition)} (id, tenant, endpoint, dedup_key, event_type, received_at, headers, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
                _inserts[partition] = insert;
            }
            return insert;
        }

        /// <summary>The claim of a new event's dedup key in its day's table: ?1 hash, ?2 event id.</summary>
        public RawStatement ClaimIn(string day)
        {
            if (!_claims.TryGetValue(day, out var claim))
            {
                // REPLACE: a key past its window may come again the same day, as a new event.
                claim = new RawStatement(Connection, $"INSERT OR REPLACE INTO {DedupTable(day)} (hash, id) VALUES (?1, ?2)");
                _claims[day] = claim;
            }
            return claim;
        }

        /// <summary>
        /// The event a dedup key (?1) was first stored as, looked up in every day's table newest first;
        /// prepared again when the days change (a new day, or one past the window dropped).
        /// </summary>
        public RawStatement DedupLookup(ImmutableSortedSet<string> days)
        {
            if (_lookup is null || !ReferenceEquals(days, _lookupDays))
            {
                _lookup?.Dispose();
                var sql = days.Count == 0
                    ? "SELECT NULL WHERE ?1 IS NULL"
                    : string.Join(" UNION ALL ", days.Reverse().Select(d => $"SELECT id FROM {DedupTable(d)} WHERE hash = ?1")) + " LIMIT 1";
                _lookup = new RawStatement(Connection, sql);
                _lookupDays = days;
            }
            return _lookup;
        }

        /// <summary>Forgets a dedup day's statements before its table is dropped.</summary>
        public void ForgetDedup(string day)
        {
            if (_claims.Remove(day, out var claim))
            {
                claim.Dispose();
            }
            _lookup?.Dispose();
            _lookup = null;
        }

        /// <summary>Forgets a dropped day's statement (its table is gone).</summary>
        public void Forget(string partition)
        {
            if (_inserts.Remove(partition, out var insert))
            {
                insert.Dispose();
            }
        }

        public void Enlist(SqliteTransaction transaction) => DeleteJob.Transaction = transaction;

        public void Dispose()
        {
            foreach (var statement in _inserts.Values.Concat(_claims.Values).Append(Job))
            {
                statement.Dispose();
            }
            _lookup?.Dispose();
            DeleteJob.Dispose();
            Connection.Dispose();
        }
    }
}
