using Microsoft.Data.Sqlite;

namespace ZenMesh.Data;

/// <summary>
/// A SQLite file is checked before a service serves from it: a damaged one stops the start, naming
/// the file and how to recover, rather than answering from whatever part of it still reads.
/// </summary>
public static class SqliteIntegrity
{
    // SQLITE_CORRUPT and SQLITE_NOTADB: the file is not (or no longer) a database SQLite can read.
    private const int Corrupt = 11;
    private const int NotADatabase = 26;

    /// <summary>
    /// Runs PRAGMA quick_check on <paramref name="file"/> (when it exists) before anything else reads
    /// it; throws <see cref="DamagedDatabaseException"/> unless it says ok.
    /// </summary>
    /// <param name="holds">What the file holds, for the message ("the egress's deliveries").</param>
    /// <param name="recovery">How to recover, when it is simpler than restoring or salvaging the file (a file rebuilt from another).</param>
    public static void Check(string file, string holds, string? recovery = null)
    {
        if (!File.Exists(file))
        {
            return;
        }
        List<string> problems;
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
            connection.Open();
            problems = connection.Command("PRAGMA quick_check(5)").Strings();
        }
        catch (SqliteException e) when (e.SqliteErrorCode is Corrupt or NotADatabase)
        {
            problems = [e.Message];
        }
        if (problems is ["ok"])
        {
            return;
        }
        throw new DamagedDatabaseException(
            $"the database file {file} is damaged ({string.Join("; ", problems)}); it holds {holds}, and serving part of it could lose or repeat them, so this service stops here. "
            + (recovery ?? $"Stop every process using it, then restore {file} from a backup, or salvage what still reads: 'sqlite3 {file} .recover > recovered.sql', "
                + $"move {file} (with its -wal and -shm files) aside, and 'sqlite3 {file} < recovered.sql'. Then start again."));
    }
}
