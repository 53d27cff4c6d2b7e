using System.Data.Common;

namespace ZenMesh.Data;

/// <summary>
/// What a commit promises on PostgreSQL: with synchronous_commit off, the server confirms a commit
/// before its WAL is on disk, and a crash loses the last ones that it confirmed. Every ZenMesh
/// service that answers "stored" on a commit refuses such a database at start, saying how to fix it.
/// </summary>
public static class PostgresDurability
{
    /// <param name="where">The database, for the message ("user 'x' on database 'y' at host").</param>
    /// <param name="promise">What a commit is taken to mean ("the ingester answers 2xx only for events that survive a crash").</param>
    public static void RequireSynchronousCommit(DbConnection connection, string where, string promise)
    {
        var setting = connection.Command("SELECT current_setting('synchronous_commit')").Scalar<string>();
        if (setting == "off")
        {
            throw new InvalidOperationException(
                $"synchronous_commit is off for {where}: PostgreSQL would confirm a commit before it is on disk, and {promise}. "
                + "Turn it on for this user (ALTER ROLE ... SET synchronous_commit = on), in postgresql.conf, or remove '-c synchronous_commit=off' from the connection string's Options.");
        }
    }
}
