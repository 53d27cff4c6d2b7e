using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

public sealed partial class SqliteEventStore
{
    /// <summary>The writer's own connection and statements, prepared once: a batch only binds and steps them.</summary>
    private sealed class Statements
    {
        private readonly Dictionary<string, SqliteCommand> _inserts = new(StringComparer.Ordinal);
        private static readonly (string Name, SqliteType Type)[] Columns =
            [("@id", SqliteType.Text), ("@tenant", SqliteType.Text), ("@endpoint", SqliteType.Text), ("@key", SqliteType.Text), ("@type", SqliteType.Text), ("@at", SqliteType.Text), ("@headers", SqliteType.Text), ("@body", SqliteType.Blob)];

        public Statements(SqliteConnection connection)
        {
            Connection = connection;
            Claim = connection.CreateCommand();
            Claim.CommandText = """
                INSERT INTO dedup (tenant, endpoint, dedup_key, event_id, expires_at) VALUES (@tenant, @endpoint, @key, @id, @expires)
                ON CONFLICT (tenant, endpoint, dedup_key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at WHERE dedup.expires_at <= @now
                """;
            Find = connection.CreateCommand();
            Find.CommandText = "SELECT event_id FROM dedup WHERE tenant = @tenant AND endpoint = @endpoint AND dedup_key = @key";
            Job = connection.CreateCommand();
            Job.CommandText = "INSERT INTO jobs (event_id, flow, partition) VALUES (@id, @flow, @partition)";
            DeleteJob = connection.CreateCommand();
            DeleteJob.CommandText = "DELETE FROM jobs WHERE seq = @seq";
            Tenant = new SharedParameter([Claim.Parameters.Add("@tenant", SqliteType.Text), Find.Parameters.Add("@tenant", SqliteType.Text)]);
            Endpoint = new SharedParameter([Claim.Parameters.Add("@endpoint", SqliteType.Text), Find.Parameters.Add("@endpoint", SqliteType.Text)]);
            Key = new SharedParameter([Claim.Parameters.Add("@key", SqliteType.Text), Find.Parameters.Add("@key", SqliteType.Text)]);
            Id = new SharedParameter([Claim.Parameters.Add("@id", SqliteType.Text), Job.Parameters.Add("@id", SqliteType.Text)]);
            Expires = Claim.Parameters.Add("@expires", SqliteType.Text);
            Now = Claim.Parameters.Add("@now", SqliteType.Text);
            Flow = Job.Parameters.Add("@flow", SqliteType.Text);
            Partition = Job.Parameters.Add("@partition", SqliteType.Text);
            Seq = DeleteJob.Parameters.Add("@seq", SqliteType.Integer);
        }

        public SqliteConnection Connection { get; }
        public SqliteCommand Claim { get; }
        public SqliteCommand Find { get; }
        public SqliteCommand Job { get; }
        public SqliteCommand DeleteJob { get; }
        public SharedParameter Tenant { get; }
        public SharedParameter Endpoint { get; }
        public SharedParameter Key { get; }
        public SharedParameter Id { get; }
        public SqliteParameter Expires { get; }
        public SqliteParameter Now { get; }
        public SqliteParameter Flow { get; }
        public SqliteParameter Partition { get; }
        public SqliteParameter Seq { get; }

        /// <summary>The insert into one day's table, prepared the first time that day is written; its parameters are in column order.</summary>
        public SqliteCommand InsertInto(string partition)
        {
            if (!_inserts.TryGetValue(partition, out var insert))
            {
                insert = Connection.CreateCommand();
                insert.CommandText = $"INSERT INTO {Table(partition)} (id, tenant, endpoint, dedup_key, event_type, received_at, headers, body) VALUES (@id, @tenant, @endpoint, @key, @type, @at, @headers, @body)";
                foreach (var (name, type) in Columns)
                {
                    insert.Parameters.Add(name, type);
                }
                insert.Transaction = Claim.Transaction;
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

        public void Enlist(SqliteTransaction transaction)
        {
            Claim.Transaction = Find.Transaction = Job.Transaction = DeleteJob.Transaction = transaction;
            foreach (var insert in _inserts.Values)
            {
                insert.Transaction = transaction;
            }
        }
    }

    /// <summary>One value bound to the same-named parameter of several statements.</summary>
    private sealed class SharedParameter(SqliteParameter[] parameters)
    {
        public object? Value
        {
            set
            {
                foreach (var p in parameters)
                {
                    p.Value = value;
                }
            }
        }
    }
}
