using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.Data.Sqlite;
using ZenMesh.Data;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The dedup keys' own SQLite file (dedup.db), a table per day (a B-tree from the 16-byte hash to the
/// event's 16-byte UUID), with a writer of its own. A key lands at a random place in its day's tree,
/// so writing keys rewrites pages all over it: they are written in large sorted batches, which share
/// those pages, and here, where SQLite's lock is the file's own, that write never holds the commit
/// every webhook waits for (in the events' file it did: p99 102 ms at 10,000/s, bench/HISTORY.md).
/// </summary>
/// <remarks>
/// A key is durable the moment its event is (the event's row holds it), so this file is an index that
/// may lag: keys_written says how far each day's rows are covered, and the events' store reads back
/// the rows after that mark when it opens. For the mark to hold, every key at or below it is written
/// in the same transaction or an earlier one: claims are queued in commit order and wait in one list
/// until they are written (a write that failed is tried again with all of them). Lookups run on the
/// events' writer, on a reader connection of their own.
/// </remarks>
internal sealed partial class DedupKeyFile : IAsyncDisposable
{
    private const string Holds = "the ingester's dedup keys (an index of the events' own keys)";

    private readonly string _connectionString;
    private readonly bool _skipSync;
    private readonly TimeProvider _time;
    private readonly TimeSpan _retryAfter;
    private readonly ILogger _logger;
    private readonly GroupCommitWriter<Work> _writer;
    private readonly ConcurrentQueue<DedupClaim> _written = new();
    private readonly Lock _lookupGate = new();
    private readonly SqliteConnection _reader;
    private readonly Dictionary<string, RawStatement> _claims = new(StringComparer.Ordinal);
    private readonly int _batchSize;
    private readonly List<DedupClaim> _pending = [];
    private bool _retryScheduled;
    private volatile string? _problem;
    private SqliteConnection? _connection;
    private ImmutableSortedSet<string> _days;
    private ImmutableSortedSet<string>? _lookupDays;
    private RawStatement? _lookup;

    /// <param name="batchSize">How many keys wait before they are written (all of them, at once); a barrier, forgetting or a stop writes what waits.</param>
    public DedupKeyFile(string location, int batchSize, bool skipSync, TimeSpan retryAfter, TimeProvider time, ILogger logger)
    {
        SqliteIntegrity.Check(location, Holds,
            $"Stop the ingester, then move {location} (with its -wal and -shm files) aside and start again: the ingester rebuilds the keys from the events it holds "
            + "(a key whose event retention already dropped is lost with the file, so a redelivery of that event would be stored again).");
        Location = location;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = location, Pooling = false }.ToString();
        _batchSize = batchSize;
        _skipSync = skipSync;
        _time = time;
        _retryAfter = retryAfter;
        _logger = logger;
        _connection = Open();
        _connection.Command("""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS keys_written (day TEXT PRIMARY KEY, through_rowid INTEGER NOT NULL);
            """).ExecuteNonQuery();
        _days = [.. DayTables(_connection)];
        using (var marks = _connection.Command("SELECT day, through_rowid FROM keys_written").ExecuteReader())
        {
            var written = new Dictionary<string, long>(StringComparer.Ordinal);
            while (marks.Read())
            {
                written[marks.GetString(0)] = marks.GetInt64(1);
            }
            WrittenThrough = written;
        }
        _reader = Open();
        _writer = new GroupCommitWriter<Work>(Math.Min(batchSize, 4_096), Commit, Failed);
    }

    public string Location { get; }

    /// <summary>Why the last write failed, while no write has succeeded since; null when the last one did.</summary>
    public string? Problem => _problem;

    /// <summary>As the file was opened: the last row of each day whose key it holds (and every key before it).</summary>
    public IReadOnlyDictionary<string, long> WrittenThrough { get; }

    /// <summary>Queues the keys of one commit; false once the file is closing (their rows still hold them).</summary>
    public bool Write(IReadOnlyList<DedupClaim> claims) => claims.Count == 0 || _writer.TryEnqueue(new Claims(claims));

    /// <summary>A key that is now in the file (the events' writer stops holding it in memory).</summary>
    public bool TryTakeWritten(out DedupClaim claim) => _written.TryDequeue(out claim);

    /// <summary>Completes once every key queued before it is in the file, durably (it writes the keys waiting).</summary>
    public Task WrittenAsync()
    {
        var barrier = new Barrier();
        if (!_writer.TryEnqueue(barrier))
        {
            barrier.Done.TrySetException(new StoreUnavailableException("the dedup key file is closing"));
        }
        return barrier.Done.Task;
    }

    /// <summary>Drops every day's keys whose whole day is older than <paramref name="horizon"/>; how many keys went.</summary>
    public Task<long> ForgetAsync(DateTimeOffset horizon)
    {
        var forget = new Forget(horizon);
        if (!_writer.TryEnqueue(forget))
        {
            forget.Done.TrySetException(new StoreUnavailableException("the dedup key file is closing"));
        }
        return forget.Done.Task;
    }

    /// <summary>The UUID of the event a key was first stored as, in the newest day that has it; null when no day does.</summary>
    public Guid? Lookup(UInt128 key)
    {
        Span<byte> hash = stackalloc byte[DedupHash.Bytes];
        DedupHash.Write(key, hash);
        // Under the gate: a day being forgotten leaves the lookup before its table is dropped.
        lock (_lookupGate)
        {
            if (_days.Count == 0)
            {
                return null;
            }
            if (_lookup is null || !ReferenceEquals(_days, _lookupDays))
            {
                _lookup?.Dispose();
                _lookup = new RawStatement(_reader, string.Join(" UNION ALL ", _days.Reverse().Select(d => $"SELECT uuid FROM {Table(d)} WHERE hash = ?1")) + " LIMIT 1");
                _lookupDays = _days;
            }
            Span<byte> uuid = stackalloc byte[16];
            return _lookup.Bind(1, hash).Blob(uuid) ? new Guid(uuid, bigEndian: true) : null;
        }
    }

    private static string Table(string day) => "dedup_" + day;

    private static IEnumerable<string> DayTables(SqliteConnection connection, SqliteTransaction? transaction = null) =>
        connection.Command("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'dedup\\_%' ESCAPE '\\'", transaction).Strings().Select(n => n["dedup_".Length..]);

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        // FULL: a mark that outlived its keys after a power loss would hide rows the next start must read back.
        connection.Command(_skipSync ? "PRAGMA synchronous = OFF;" : "PRAGMA synchronous = FULL;").ExecuteNonQuery();
        return connection;
    }

    /// <summary>
    /// Once a batch of keys waits (or anything else asks): one transaction with the keys (sorted, so
    /// each day's tree is walked once), their marks, and any forgetting.
    /// </summary>
    private void Commit(IReadOnlyList<Work> batch)
    {
        var forced = false;
        foreach (var work in batch)
        {
            if (work is Claims claims)
            {
                _pending.AddRange(claims.Value);
            }
            else
            {
                forced = true;
            }
        }
        if (!forced && _pending.Count < _batchSize)
        {
            return;
        }
        var connection = _connection ??= Open();
        try
        {
            // By day, then key (each day's tree walked once, in order), then row (a key claimed twice keeps its later event).
            _pending.Sort(static (a, b) => string.CompareOrdinal(a.Day, b.Day) is var day and not 0 ? day : a.Key.CompareTo(b.Key) is var key and not 0 ? key : a.Row.CompareTo(b.Row));
            var claims = _pending;
            var created = new List<string>();
            var forgotten = new List<(Forget Forget, long Keys)>();
            using (var transaction = connection.BeginTransaction())
            {
                Span<byte> hash = stackalloc byte[DedupHash.Bytes];
                Span<byte> uuid = stackalloc byte[16];
                foreach (var day in claims.GroupBy(c => c.Day))
                {
                    if (!_days.Contains(day.Key))
                    {
                        // The UUID, not the 35-character id: the smaller a row, the fewer pages a batch rewrites.
                        connection.Command($"CREATE TABLE IF NOT EXISTS {Table(day.Key)} (hash BLOB PRIMARY KEY, uuid BLOB NOT NULL) WITHOUT ROWID", transaction).ExecuteNonQuery();
                        created.Add(day.Key);
                    }
                    if (!_claims.TryGetValue(day.Key, out var claim))
                    {
                        // REPLACE: a key past its window may come again the same day, as a new event.
                        claim = new RawStatement(connection, $"INSERT OR REPLACE INTO {Table(day.Key)} (hash, uuid) VALUES (?1, ?2)");
                        _claims[day.Key] = claim;
                    }
                    foreach (var c in day)
                    {
                        DedupHash.Write(c.Key, hash);
                        c.Uuid.TryWriteBytes(uuid, bigEndian: true, out _);
                        claim.Bind(1, hash).Bind(2, uuid).Execute();
                    }
                    connection.Command("INSERT INTO keys_written (day, through_rowid) VALUES (@day, @row) ON CONFLICT (day) DO UPDATE SET through_rowid = MAX(through_rowid, excluded.through_rowid)", transaction)
                        .With("@day", day.Key).With("@row", day.Max(c => c.Row)).ExecuteNonQuery();
                }
                foreach (var forget in batch.OfType<Forget>())
                {
                    forgotten.Add((forget, ForgetIn(connection, transaction, forget.Horizon)));
                }
                transaction.Commit();
            }
            lock (_lookupGate)
            {
                _days = _days.Union(created);
            }
            foreach (var c in claims)
            {
                _written.Enqueue(c);
            }
            _pending.Clear();
            _problem = null;
            foreach (var (forget, keys) in forgotten)
            {
                forget.Done.TrySetResult(keys);
            }
            foreach (var barrier in batch.OfType<Barrier>())
            {
                barrier.Done.TrySetResult();
            }
        }
        catch
        {
            // SQLite may have rolled back on its own: the next batch starts on a connection of its own.
            foreach (var statement in _claims.Values)
            {
                statement.Dispose();
            }
            _claims.Clear();
            connection.Dispose();
            _connection = null;
            throw;
        }
    }

    /// <summary>Drops, inside <paramref name="transaction"/>, every day table whole before <paramref name="horizon"/>; the keys it held.</summary>
    private long ForgetIn(SqliteConnection connection, SqliteTransaction transaction, DateTimeOffset horizon)
    {
        var expired = DayTables(connection, transaction).Where(d => EventIds.EndOf(d) <= horizon).ToList();
        if (expired.Count == 0)
        {
            return 0;
        }
        // The lookup stops naming them before they go; were the drop to fail, they stay out of it (expired anyway).
        lock (_lookupGate)
        {
            _days = _days.Except(expired);
        }
        long keys = 0;
        foreach (var day in expired)
        {
            keys += connection.Command($"SELECT COUNT(*) FROM {Table(day)}", transaction).Scalar<long>();
            if (_claims.Remove(day, out var claim))
            {
                claim.Dispose();
            }
            connection.Command($"DROP TABLE {Table(day)}", transaction).ExecuteNonQuery();
            connection.Command("DELETE FROM keys_written WHERE day = @day", transaction).With("@day", day).ExecuteNonQuery();
        }
        return keys;
    }

    /// <summary>
    /// The keys stay waiting (and in memory, and in their events' rows), and are written again with
    /// the next batch, or after a while if none comes; who waited for them is told.
    /// </summary>
    private void Failed(IReadOnlyList<Work> batch, Exception e)
    {
        _problem = $"{e.GetType().Name}: {e.Message}";
        var unavailable = new StoreUnavailableException($"the dedup key file could not be written: {e.GetType().Name}: {e.Message}", e);
        foreach (var work in batch)
        {
            switch (work)
            {
                case Barrier barrier:
                    barrier.Done.TrySetException(unavailable);
                    break;
                case Forget forget:
                    forget.Done.TrySetException(unavailable);
                    break;
            }
        }
        Log.WriteFailed(_logger, _pending.Count, $"{e.GetType().Name}: {e.Message}", _retryAfter);
        if (!_retryScheduled && _pending.Count > 0)
        {
            _retryScheduled = true;
            _ = RetryLaterAsync();
        }
    }

    private async Task RetryLaterAsync()
    {
        await Task.Delay(_retryAfter, _time).ConfigureAwait(false);
        _retryScheduled = false;
        _writer.TryEnqueue(new Retry());
    }

    /// <summary>Writes what is queued (a clean stop leaves no key to read back), then closes.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await WrittenAsync().ConfigureAwait(false);
        }
        catch (StoreUnavailableException)
        {
            Log.NotWrittenAtStop(_logger);
        }
        await _writer.DisposeAsync().ConfigureAwait(false);
        foreach (var statement in _claims.Values)
        {
            statement.Dispose();
        }
        _connection?.Dispose();
        lock (_lookupGate)
        {
            _lookup?.Dispose();
            _reader.Dispose();
        }
    }

    private abstract class Work;

    private sealed class Claims(IReadOnlyList<DedupClaim> value) : Work
    {
        public IReadOnlyList<DedupClaim> Value { get; } = value;
    }

    private sealed class Barrier : Work
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Forget(DateTimeOffset horizon) : Work
    {
        public DateTimeOffset Horizon { get; } = horizon;
        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Nothing new: writes the keys waiting since a write failed.</summary>
    private sealed class Retry : Work;

    private static partial class Log
    {
        [LoggerMessage(EventId = 3114, Level = LogLevel.Warning, Message = "could not write {Keys} dedup keys to the key file ({Reason}); they stay in memory and in their events' rows, and are written again with the next keys or in {RetryAfter}")]
        public static partial void WriteFailed(ILogger logger, int keys, string reason, TimeSpan retryAfter);

        [LoggerMessage(EventId = 3113, Level = LogLevel.Warning, Message = "could not write the dedup keys waiting at stop; the next start reads them back from their events")]
        public static partial void NotWrittenAtStop(ILogger logger);
    }
}
