using System.Data;
using System.Data.Common;

namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// Where the control plane keeps what must outlive it: desired state, API tokens, enrollments,
/// edge credentials and the evidence ledger. SQLite in the data directory for one server; PostgreSQL
/// for several replicas, which then see each other's changes through <see cref="Notify"/>.
/// The SQL is written once for both (TEXT and BIGINT columns, @name parameters, ON CONFLICT upserts).
/// </summary>
public abstract class ControlPlaneDatabase
{
    /// <summary>The notification topics: what another replica must reload.</summary>
    public const string DesiredStateTopic = "desired-state";
    public const string TokensTopic = "tokens";
    public const string CredentialsTopic = "credentials";

    /// <summary>Where it lives, for logs and errors (never a password).</summary>
    public abstract string Describe();

    /// <summary>True when several replicas may share it, so each must follow the others' changes.</summary>
    public abstract bool IsShared { get; }

    public abstract DbConnection Open();

    /// <summary>Serializes writers (across replicas, too) until the transaction ends.</summary>
    public abstract void LockWriters(DbTransaction transaction);

    /// <summary>Tells the other replicas, once the transaction commits, that <paramref name="topic"/> changed.</summary>
    public abstract void Notify(DbTransaction transaction, string topic);

    /// <summary>Creates tables once; replicas starting together take turns.</summary>
    public void EnsureSchema(string ddl)
    {
        using var connection = Open();
        using var transaction = connection.BeginTransaction();
        LockWriters(transaction);
        using (var command = connection.Command(ddl, transaction))
        {
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    public void Execute(string sql)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
