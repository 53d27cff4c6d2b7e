using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Dedup keys, written behind. A key is durable the moment its event is: the event's row holds it.
/// The keys' own tables (one per day, a B-tree on the 16-byte hash) are what a lookup reads; they
/// live in a file of their own with a writer of their own (<see cref="DedupKeyFile"/>), so writing
/// them never holds the commit every webhook waits for. A new key waits in memory (where lookups see
/// it too) until that writer says it is in the file; opening the store reads back the rows after
/// the file's marks, so a crash loses no key.
/// </summary>
public sealed partial class SqliteEventStore
{
    /// <summary>Keys whose events are committed but that the key file does not hold yet: key to event UUID, day and row.</summary>
    private readonly Dictionary<UInt128, (Guid Uuid, string Day, long Row)> _unwritten = [];

    /// <summary>
    /// The most keys held in memory for the key file: 16 of its batches (about 60 MiB at the
    /// default). A key file that cannot keep up (it cannot be written, or is held by another
    /// process) would otherwise grow memory with every webhook; past this, new webhooks are
    /// refused (503, Retry-After) and /healthz says why, until it catches up.
    /// </summary>
    private long MostUnwritten => 16L * Options.DedupWriteBatch;

    /// <summary>Throws while the key file is too far behind for more keys to be held (see <see cref="MostUnwritten"/>).</summary>
    private void RefuseWhileKeysBehind()
    {
        Maintain();
        if (_unwritten.Count >= MostUnwritten)
        {
            throw new StoreUnavailableException($"the dedup key file {_keys.Location} is {_unwritten.Count} keys behind ({_keys.Problem ?? "still writing them"}); "
                + "new webhooks are refused until it catches up, since their keys would be held in memory meanwhile. Nothing accepted is lost: each key is also in its event's row.");
        }
    }

    /// <summary>Between batches: forgets the keys the key file now holds (unless claimed again since).</summary>
    protected override void Maintain()
    {
        while (_keys.TryTakeWritten(out var written))
        {
            if (_unwritten.TryGetValue(written.Key, out var waiting) && waiting.Uuid == written.Uuid)
            {
                _unwritten.Remove(written.Key);
            }
        }
    }

    /// <summary>After an event commit: its keys wait in memory and are queued for the key file.</summary>
    private void Claimed(IReadOnlyList<DedupClaim> claims)
    {
        foreach (var claim in claims)
        {
            _unwritten[claim.Key] = (claim.Uuid, claim.Day, claim.Row);
        }
        _keys.Write(claims);
    }

    /// <summary>
    /// At open: the keys of every event inside the dedup window that the key file does not cover yet
    /// (rows after its marks; every row, for a store from before the keys had a file of their own)
    /// wait in memory as if just committed, and are queued for the file. Earlier versions' key tables
    /// in events.db and run files go: the rows hold every key they held.
    /// </summary>
    private void RecoverUnwrittenKeys(SqliteConnection connection)
    {
        var horizon = Time.GetUtcNow() - Options.DedupWindow;
        var recovered = new List<DedupClaim>();
        foreach (var day in _partitions.Where(p => EventIds.EndOf(p) > horizon))
        {
            // One partition string per day, not per claim (see DedupClaim).
            using var rows = connection.Command($"SELECT rowid, id, tenant, endpoint, dedup_key FROM {Table(day)} WHERE rowid > @after ORDER BY rowid")
                .With("@after", _keys.WrittenThrough.GetValueOrDefault(day)).ExecuteReader();
            while (rows.Read())
            {
                recovered.Add(new DedupClaim(DedupHash.Of(rows.GetString(2), rows.GetString(3), rows.GetString(4)), EventIds.UuidOf(rows.GetString(1)) ?? throw new InvalidDataException($"'{rows.GetString(1)}' in {Table(day)} is not an event id"), day, rows.GetInt64(0)));
            }
        }
        Claimed(recovered);
        foreach (var table in Tables(connection, "dedup_").Select(d => "dedup_" + d).Concat(["dedup", "keys_written"]).ToList())
        {
            connection.Command($"DROP TABLE IF EXISTS {table}").ExecuteNonQuery();
        }
        var runs = Path.Combine(Options.DataDir, "dedup");
        if (Directory.Exists(runs))
        {
            Directory.Delete(runs, recursive: true);
        }
        if (recovered.Count > 0)
        {
            Log.KeysRecovered(Logger, recovered.Count);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3112, Level = LogLevel.Information, Message = "read back {Keys} dedup keys from the stored events (not yet in the key file when the store last stopped)")]
        public static partial void KeysRecovered(ILogger logger, int keys);
    }
}
