using System.Collections.Immutable;
using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Dedup keys, written behind. A key is durable the moment its event is: the event's row holds it.
/// The keys' own tables (one per day, a B-tree on the 16-byte hash) are what a lookup reads, and a
/// key's place in them is random, so writing each key in its event's commit touched a page of its
/// own each time: a third of the throughput, and 10 KiB more written per 1 KB event
/// (bench/HISTORY.md, session 28). So new keys wait in memory (where lookups see them too) and are
/// written in sorted batches, with how far each day's rows are covered (keys_written); opening the
/// store reads back the rows after that, so a crash loses no key. The database stays the one truth.
/// </summary>
public sealed partial class SqliteEventStore
{
    /// <summary>Keys whose events are committed but that are not yet in their day's table: key to event id, day and row.</summary>
    private readonly Dictionary<UInt128, (string Id, string Day, long Row)> _unwritten = [];

    /// <summary>
    /// Between batches: once a batch of keys waits in memory, the oldest batch of them (by their
    /// events' rows, so each day's written keys cover its rows up to a mark) is written, sorted. In
    /// batches, not all at once: writing them holds the writer, and every webhook waits behind it.
    /// </summary>
    protected override void Maintain() => WriteWaitingKeys(Options.DedupWriteBatch);

    /// <summary>Writes the oldest <paramref name="most"/> keys waiting in memory, when at least that many wait (int.MaxValue: all of them, if any).</summary>
    private void WriteWaitingKeys(int most)
    {
        if (_unwritten.Count == 0 || (most != int.MaxValue && _unwritten.Count < most))
        {
            return;
        }
        var oldest = _unwritten.Select(u => (u.Key, u.Value.Id, u.Value.Day, u.Value.Row)).OrderBy(u => u.Day, StringComparer.Ordinal).ThenBy(u => u.Row).Take(most).ToList();
        OnWriterConnection(st =>
        {
            using var transaction = st.Connection.BeginTransaction();
            var days = WriteKeys(transaction, _dedupDays, oldest, []);
            transaction.Commit();
            _dedupDays = days;
            foreach (var written in oldest)
            {
                _unwritten.Remove(written.Key);
            }
        });
    }

    /// <summary>
    /// Writes <paramref name="waiting"/> (keys from memory) and <paramref name="claims"/> (then empties
    /// it) into their days' tables, sorted, inside <paramref name="transaction"/>; returns the days that
    /// now have a table. The caller forgets the keys written from memory once the transaction has committed.
    /// </summary>
    private ImmutableSortedSet<string> WriteKeys(SqliteTransaction transaction, ImmutableSortedSet<string> days, IEnumerable<(UInt128 Key, string Id, string Day, long Row)> waiting, List<(UInt128 Key, string Id, string Day, long Row)> claims)
    {
        var connection = _statements!.Connection;
        var all = waiting.Concat(claims).OrderBy(c => c.Day, StringComparer.Ordinal).ThenBy(c => c.Key).ToList();
        claims.Clear();
        var hash = new byte[DedupHash.Bytes];
        foreach (var day in all.GroupBy(c => c.Day))
        {
            if (!days.Contains(day.Key))
            {
                connection.Command($"CREATE TABLE IF NOT EXISTS {DedupTable(day.Key)} (hash BLOB PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID", transaction).ExecuteNonQuery();
                days = days.Add(day.Key);
            }
            var claim = _statements.ClaimIn(day.Key);
            foreach (var (key, id, _, _) in day)
            {
                DedupHash.Write(key, hash);
                claim.Bind(1, hash).Bind(2, id).Execute();
            }
            connection.Command("INSERT INTO keys_written (day, through_rowid) VALUES (@day, @row) ON CONFLICT (day) DO UPDATE SET through_rowid = MAX(through_rowid, excluded.through_rowid)", transaction)
                .With("@day", day.Key).With("@row", day.Max(c => c.Row)).ExecuteNonQuery();
        }
        return days;
    }

    /// <summary>
    /// At open: the keys of every event inside the dedup window that its day's table does not cover
    /// yet (rows after keys_written's mark; every row, for a store from before the keys were kept
    /// in SQLite) wait in memory as if just committed. Earlier versions' dedup table and run files go.
    /// </summary>
    private void RecoverUnwrittenKeys(SqliteConnection connection)
    {
        var horizon = Time.GetUtcNow() - Options.DedupWindow;
        var written = new Dictionary<string, long>(StringComparer.Ordinal);
        using (var rows = connection.Command("SELECT day, through_rowid FROM keys_written").ExecuteReader())
        {
            while (rows.Read())
            {
                written[rows.GetString(0)] = rows.GetInt64(1);
            }
        }
        foreach (var day in _partitions.Where(p => EventIds.EndOf(p) > horizon))
        {
            using var rows = connection.Command($"SELECT rowid, id, tenant, endpoint, dedup_key FROM {Table(day)} WHERE rowid > @after ORDER BY rowid")
                .With("@after", written.GetValueOrDefault(day)).ExecuteReader();
            while (rows.Read())
            {
                _unwritten[DedupHash.Of(rows.GetString(2), rows.GetString(3), rows.GetString(4))] = (rows.GetString(1), day, rows.GetInt64(0));
            }
        }
        if (connection.Command("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'dedup'").Scalar<long>() > 0)
        {
            connection.Command("DROP TABLE dedup").ExecuteNonQuery();
        }
        var runs = Path.Combine(Options.DataDir, "dedup");
        if (Directory.Exists(runs))
        {
            Directory.Delete(runs, recursive: true);
        }
        if (_unwritten.Count > 0)
        {
            Log.KeysRecovered(Logger, _unwritten.Count);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3113, Level = LogLevel.Warning, Message = "could not write {Keys} dedup keys at stop ({Reason}); the next start reads them back from their events")]
        public static partial void KeysNotWrittenAtStop(ILogger logger, int keys, string reason);

        [LoggerMessage(EventId = 3112, Level = LogLevel.Information, Message = "read back {Keys} dedup keys from the stored events (not yet in their days' tables when the store last stopped)")]
        public static partial void KeysRecovered(ILogger logger, int keys);
    }
}
