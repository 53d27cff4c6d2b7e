using Microsoft.Data.Sqlite;
using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Opening the dedup index: claims the runs do not hold are read back from the events' own rows,
/// and a store made before the index existed has its dedup table turned into a run first.
/// </summary>
public sealed partial class SqliteEventStore
{
    /// <summary>Rows after each day's covered rowid: committed claims that were still in memory when the store last stopped.</summary>
    private void RecoverDedupKeys(SqliteConnection connection)
    {
        var now = Time.GetUtcNow();
        foreach (var partition in _partitions)
        {
            using var rows = connection.Command($"SELECT rowid, id, tenant, endpoint, dedup_key FROM {Table(partition)} WHERE rowid > @from ORDER BY rowid")
                .With("@from", _dedup.Covered.GetValueOrDefault(partition)).ExecuteReader();
            while (rows.Read())
            {
                if (EventIds.UuidOf(rows.GetString(1)) is { } uuid && !new DedupEntry(default, uuid).ExpiredAt(now, Options.DedupWindow))
                {
                    _dedup.Add(DedupHash.Of(rows.GetString(2), rows.GetString(3), rows.GetString(4)), uuid, partition, rows.GetInt64(0));
                }
            }
        }
    }

    /// <summary>
    /// The dedup table of earlier versions, whose claims cover every event row there is: written as a
    /// run (durably) before the table is dropped, so a crash in between only migrates it again.
    /// </summary>
    private void MigrateDedupTable(SqliteConnection connection)
    {
        if (connection.Command("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'dedup'").Scalar<long>() == 0)
        {
            return;
        }
        var now = Time.GetUtcNow();
        var claims = new List<DedupEntry>();
        using (var rows = connection.Command("SELECT tenant, endpoint, dedup_key, event_id FROM dedup").ExecuteReader())
        {
            while (rows.Read())
            {
                if (EventIds.UuidOf(rows.GetString(3)) is { } uuid && new DedupEntry(DedupHash.Of(rows.GetString(0), rows.GetString(1), rows.GetString(2)), uuid) is var claim && !claim.ExpiredAt(now, Options.DedupWindow))
                {
                    claims.Add(claim);
                }
            }
        }
        var coverage = _partitions.ToDictionary(p => p, p => connection.Command($"SELECT COALESCE(MAX(rowid), 0) FROM {Table(p)}").Scalar<long>(), StringComparer.Ordinal);
        _dedup.Import(claims, coverage);
        connection.Command("DROP TABLE dedup").ExecuteNonQuery();
        Log.DedupTableMigrated(Logger, claims.Count);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3112, Level = LogLevel.Information, Message = "moved {Count} dedup keys from the dedup table of an earlier version into a dedup run")]
        public static partial void DedupTableMigrated(ILogger logger, int count);
    }
}
