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
            foreach (var statement in _inserts.Values.Append(Job))
            {
                statement.Dispose();
            }
            DeleteJob.Dispose();
            Connection.Dispose();
        }
    }
}
