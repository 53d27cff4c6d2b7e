using System.Data.Common;
using Npgsql;

namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// PostgreSQL, shared by several control-plane replicas. Writers serialize on a transaction-scoped
/// advisory lock; every change sends NOTIFY on one channel, so the others reload within moments.
/// </summary>
public sealed class PostgresControlPlaneDatabase : ControlPlaneDatabase, IAsyncDisposable
{
    public const string Channel = "zenmesh_changes";

    // An arbitrary constant of ours: the advisory-lock key every replica's writers agree on.
    private const long WriterLockKey = 0x7a656e6d657368;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _description;

    public PostgresControlPlaneDatabase(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        _description = $"PostgreSQL database '{builder.Database}' on {builder.Host}:{builder.Port} as '{builder.Username}'";
        _dataSource = NpgsqlDataSource.Create(builder);
        ConnectionString = builder.ConnectionString;
    }

    /// <summary>For the LISTEN connection, which lives outside the pool.</summary>
    public string ConnectionString { get; }

    public override string Describe() => _description;

    public override bool IsShared => true;

    private volatile bool _durabilityChecked;

    public override DbConnection Open()
    {
        try
        {
            var connection = _dataSource.OpenConnection();
            if (!_durabilityChecked)
            {
                ZenMesh.Data.PostgresDurability.RequireSynchronousCommit(connection, _description, "the Flow API answers 2xx only for changes that survive a crash");
                _durabilityChecked = true;
            }
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            throw new DatabaseUnavailableException($"Cannot reach the {_description}: {e.Message}. Check Xds:PostgresConnectionString (--postgres) and that the server is up and accepts this user.", e);
        }
    }

    public override void LockWriters(DbTransaction transaction)
    {
        using var command = transaction.Connection!.Command("SELECT pg_advisory_xact_lock(@key)", transaction).With("key", WriterLockKey);
        command.ExecuteNonQuery();
    }

    public override void Notify(DbTransaction transaction, string topic)
    {
        using var command = transaction.Connection!.Command($"SELECT pg_notify('{Channel}', @topic)", transaction).With("topic", topic);
        command.ExecuteNonQuery();
    }

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
