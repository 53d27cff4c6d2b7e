using Microsoft.Data.Sqlite;

namespace ZenMesh.XdsServer.Storage;

/// <summary>The control plane's one SQLite file in the data directory, shared by desired state, tokens and the ledger.</summary>
public sealed class SqliteDatabase
{
    public SqliteDatabase(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        Path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, "zenmesh.db"));
        ConnectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString();
    }

    public string Path { get; }
    public string ConnectionString { get; }

    /// <summary>An open connection; synchronous=FULL so a committed transaction survives a crash.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA synchronous = FULL;");
        return connection;
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
