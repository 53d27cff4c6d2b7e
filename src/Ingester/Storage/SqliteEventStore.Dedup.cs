using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Opening: every day still inside the dedup window has its dedup table. A store written before the
/// keys lived in SQLite (they were in run files of our own under {data-dir}/dedup) has them rebuilt
/// from the events' own rows, which hold each event's key; the old files are removed after.
/// </summary>
public sealed partial class SqliteEventStore
{
    private void CompleteDedupDays(SqliteConnection connection)
    {
        var horizon = Time.GetUtcNow() - Options.DedupWindow;
        var missing = _partitions.Where(p => !_dedupDays.Contains(p) && EventIds.EndOf(p) > horizon).ToList();
        var legacyTable = connection.Command("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'dedup'").Scalar<long>() > 0;
        if (missing.Count > 0 || legacyTable)
        {
            using var transaction = connection.BeginTransaction();
            long keys = 0;
            var hash = new byte[DedupHash.Bytes];
            foreach (var day in missing)
            {
                connection.Command($"CREATE TABLE {DedupTable(day)} (hash BLOB PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID", transaction).ExecuteNonQuery();
                using var insert = connection.Command($"INSERT OR IGNORE INTO {DedupTable(day)} (hash, id) VALUES (@hash, @id)", transaction);
                var hashParameter = ((SqliteCommand)insert).Parameters.Add("@hash", SqliteType.Blob);
                var idParameter = ((SqliteCommand)insert).Parameters.Add("@id", SqliteType.Text);
                using var rows = connection.Command($"SELECT id, tenant, endpoint, dedup_key FROM {Table(day)}", transaction).ExecuteReader();
                while (rows.Read())
                {
                    DedupHash.Write(DedupHash.Of(rows.GetString(1), rows.GetString(2), rows.GetString(3)), hash);
                    hashParameter.Value = hash;
                    idParameter.Value = rows.GetString(0);
                    keys += insert.ExecuteNonQuery();
                }
            }
            if (legacyTable)
            {
                connection.Command("DROP TABLE dedup", transaction).ExecuteNonQuery();
            }
            transaction.Commit();
            _dedupDays = _dedupDays.Union(missing);
            Log.DedupRebuilt(Logger, keys, missing.Count);
        }
        var runs = Path.Combine(Options.DataDir, "dedup");
        if (Directory.Exists(runs))
        {
            Directory.Delete(runs, recursive: true);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3112, Level = LogLevel.Information, Message = "rebuilt {Keys} dedup keys of {Days} days from the stored events (a store from before the keys lived in SQLite)")]
        public static partial void DedupRebuilt(ILogger logger, long keys, int days);
    }
}
