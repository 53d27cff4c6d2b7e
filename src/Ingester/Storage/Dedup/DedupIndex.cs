using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ZenMesh.Ingester.Storage.Dedup;

/// <summary>
/// The embedded store's durable dedup keys, kept out of the commit. A key in a SQLite index dirtied
/// one random page per event, two thirds of what every group commit wrote and synced. Here the
/// claim is made durable by the event's own row (its table holds tenant, endpoint and key) and
/// remembered in memory; every <c>flushAt</c> claims, the memory table is written in the background
/// as a sorted, immutable run file, and runs of similar size are merged (dropping expired claims),
/// so there are never more than a few dozen. Each run records which rows of which day's table it
/// holds, and a restart reads the rows after that back into memory: nothing the store committed is
/// forgotten, however it stopped.
/// Threads: the store's one writer finds, adds and flushes; one background task at a time writes
/// and merges runs. A run the background replaces is closed by the writer, between two lookups,
/// so no lookup ever reads a closed file.
/// </summary>
public sealed partial class DedupIndex : IDisposable
{
    private readonly string _directory;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _flushAt;
    private readonly Lock _viewLock = new();
    private readonly ConcurrentQueue<DedupRun> _retired = new();
    private Memtable _active;
    // A memory table whose run is written and which no view holds any more, for the writer to clear
    // and fill again: each new one was 3 MiB in the large object heap every flushAt claims, and with
    // the flush's sort buffer, most of what started the background gen2 collections (bench/README, session 23).
    private Memtable? _spare;
    // The flush's sort buffer, kept: only one flush runs at a time.
    private DedupEntry[] _sortBuffer = [];
    private volatile View _view;
    private Task _background = Task.CompletedTask;
    private long _nextSeq;
    private long _forgotten;

    /// <summary>Claims not yet in a run, and the highest row of each day's table they include.</summary>
    private sealed class Memtable(int capacity)
    {
        // Sized once: growing it would copy it, in the large object heap, several times per run.
        public Dictionary<UInt128, Guid> Claims { get; } = new(capacity);

        public Dictionary<string, long> Coverage { get; } = new(StringComparer.Ordinal);

        public void Cover(string partition, long rowid) => Coverage[partition] = Math.Max(Coverage.GetValueOrDefault(partition), rowid);

        /// <summary>Empty again, keeping its capacity.</summary>
        public Memtable Cleared()
        {
            Claims.Clear();
            Coverage.Clear();
            return this;
        }
    }

    /// <summary>What a lookup reads: the memory table being written out (if any) and the runs, newest first.</summary>
    private sealed record View(Memtable? Frozen, ImmutableArray<DedupRun> Runs);

    public DedupIndex(string directory, TimeSpan window, TimeProvider time, ILogger logger, int flushAt = 65_536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(flushAt, 1);
        _directory = directory;
        _window = window;
        _time = time;
        _logger = logger;
        _flushAt = flushAt;
        _active = new Memtable(flushAt);
        Directory.CreateDirectory(directory);
        foreach (var temporary in Directory.EnumerateFiles(directory, "*.tmp"))
        {
            File.Delete(temporary);
        }
        var runs = new List<DedupRun>();
        var trusted = true;
        foreach (var file in Directory.EnumerateFiles(directory, "*" + DedupRun.Extension).Where(f => DedupRun.SeqOf(f) is not null).OrderByDescending(f => DedupRun.SeqOf(f)))
        {
            try
            {
                runs.Add(DedupRun.Open(file));
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                // Which rows it held is unknown now, so every row still in the window is read back.
                File.Move(file, file + ".bad", overwrite: true);
                Log.BadRun(_logger, file, e.Message);
                trusted = false;
            }
        }
        _nextSeq = runs.Count == 0 ? 1 : runs.Max(r => r.Seq) + 1;
        var covered = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (partition, rowid) in trusted ? runs.SelectMany(r => r.Coverage) : [])
        {
            covered[partition] = Math.Max(covered.GetValueOrDefault(partition), rowid);
        }
        Covered = covered;
        _view = new View(null, [.. runs]);
    }

    /// <summary>As opened: the highest row of each day's table whose claim is in a run. Rows after it are to be <see cref="Add"/>ed back.</summary>
    public IReadOnlyDictionary<string, long> Covered { get; }

    /// <summary>Claims remembered, expired ones not yet dropped included.</summary>
    public long Count
    {
        get
        {
            var view = _view;
            return _active.Claims.Count + (view.Frozen?.Claims.Count ?? 0) + view.Runs.Sum(r => r.Count);
        }
    }

    public int Runs => _view.Runs.Length;

    /// <summary>The event that holds <paramref name="key"/>'s claim, unless there is none or it has expired.</summary>
    public bool TryFind(UInt128 key, out Guid claimedBy)
    {
        while (_retired.TryDequeue(out var retired))
        {
            retired.Dispose();
            File.Delete(retired.Path);
        }
        var view = _view;
        // Newest first: a claim made after an older one expired is found before it.
        var found = _active.Claims.TryGetValue(key, out claimedBy) || (view.Frozen?.Claims.TryGetValue(key, out claimedBy) ?? false);
        for (var i = 0; !found && i < view.Runs.Length; i++)
        {
            found = view.Runs[i].TryFind(key, out claimedBy);
        }
        return found && !new DedupEntry(key, claimedBy).ExpiredAt(_time.GetUtcNow(), _window);
    }

    /// <summary>
    /// The id of the event a new webhook with <paramref name="key"/> duplicates: one earlier in the batch
    /// being committed (<paramref name="inBatch"/>, not yet claimed here), or one whose claim is held. Null: it is new.
    /// </summary>
    public string? DuplicateOf(UInt128 key, IReadOnlyDictionary<UInt128, string> inBatch) =>
        inBatch.TryGetValue(key, out var id) ? id : TryFind(key, out var claimedBy) ? EventIds.Of(claimedBy) : null;

    /// <summary>Claims from elsewhere (an earlier version's table), written durably as one run before this returns.</summary>
    public void Import(IEnumerable<DedupEntry> claims, IReadOnlyDictionary<string, long> coverage)
    {
        _background.Wait();
        var latest = new Dictionary<UInt128, Guid>();
        foreach (var (key, uuid) in claims)
        {
            if (!latest.TryGetValue(key, out var other) || EventIds.TimeOf(other) < EventIds.TimeOf(uuid))
            {
                latest[key] = uuid;
            }
        }
        var entries = latest.Select(c => new DedupEntry(c.Key, c.Value)).ToArray();
        Array.Sort(entries, static (a, b) => a.Key.CompareTo(b.Key));
        var run = DedupRun.Write(_directory, Interlocked.Increment(ref _nextSeq) - 1, entries, entries.Length, coverage);
        lock (_viewLock)
        {
            _view = _view with { Runs = _view.Runs.Insert(0, run) };
        }
    }

    /// <summary>A claim whose event's row <paramref name="rowid"/> in <paramref name="partition"/>'s table has committed.</summary>
    public void Add(UInt128 key, Guid claimedBy, string partition, long rowid)
    {
        _active.Claims[key] = claimedBy;
        _active.Cover(partition, rowid);
    }

    /// <summary>Records of <paramref name="partition"/> up to <paramref name="rowid"/> hold no claim but those added: a restart need not read them for claims.</summary>
    public void Cover(string partition, long rowid) => _active.Cover(partition, rowid);

    /// <summary>Whether claims from <paramref name="partition"/>'s table are only in memory (its rows are still needed to rebuild them).</summary>
    public bool Unflushed(string partition) => _active.Coverage.ContainsKey(partition) || (_view.Frozen?.Coverage.ContainsKey(partition) ?? false);

    /// <summary>After a commit: once enough claims are in memory, they go to a run in the background.</summary>
    public void MaybeFlush()
    {
        if (_active.Claims.Count >= _flushAt && _background.IsCompleted)
        {
            var frozen = Freeze();
            // A thread of its own: a merge can take a second, and on two cores a pool thread held that
            // long (beside the writer's) starves request handling until the pool grows.
            _background = Task.Factory.StartNew(() => Flush(frozen, compact: true), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    /// <summary>Writes every claim in memory to a run before returning (before a day's table is dropped; at shutdown).</summary>
    public void FlushNow()
    {
        _background.Wait();
        if (_active.Claims.Count > 0 || _active.Coverage.Count > 0)
        {
            Flush(Freeze(), compact: false);
        }
    }

    private Memtable Freeze()
    {
        var frozen = _active;
        // A run that could not be written leaves its claims frozen: they join the next one.
        if (_view.Frozen is { } stuck)
        {
            foreach (var (key, uuid) in stuck.Claims)
            {
                frozen.Claims.TryAdd(key, uuid);
            }
            foreach (var (partition, rowid) in stuck.Coverage)
            {
                frozen.Cover(partition, rowid);
            }
        }
        // Only the writer freezes and looks up, so no lookup is reading the spare while it is cleared here.
        _active = Interlocked.Exchange(ref _spare, null)?.Cleared() ?? new Memtable(_flushAt);
        lock (_viewLock)
        {
            _view = _view with { Frozen = frozen };
        }
        return frozen;
    }

    private void Flush(Memtable frozen, bool compact)
    {
        try
        {
            var now = _time.GetUtcNow();
            if (_sortBuffer.Length < frozen.Claims.Count)
            {
                _sortBuffer = new DedupEntry[Math.Max(frozen.Claims.Count, _flushAt)];
            }
            var count = 0;
            foreach (var (key, uuid) in frozen.Claims)
            {
                var entry = new DedupEntry(key, uuid);
                if (!entry.ExpiredAt(now, _window))
                {
                    _sortBuffer[count++] = entry;
                }
            }
            Array.Sort(_sortBuffer, 0, count, EntryOrder.Instance);
            var run = DedupRun.Write(_directory, Interlocked.Increment(ref _nextSeq) - 1, new ArraySegment<DedupEntry>(_sortBuffer, 0, count), count, frozen.Coverage);
            lock (_viewLock)
            {
                _view = new View(null, _view.Runs.Insert(0, run));
            }
            // No view holds it now; the writer clears it when it next needs an empty one.
            Volatile.Write(ref _spare, frozen);
            Interlocked.Add(ref _forgotten, frozen.Claims.Count - count);
            if (compact)
            {
                Compact();
            }
        }
        catch (Exception e)
        {
            // The claims stay in memory (frozen) and their rows in the events tables; the next flush retries.
            Log.FlushFailed(_logger, frozen.Claims.Count, e.Message);
        }
    }

    private sealed class EntryOrder : IComparer<DedupEntry>
    {
        public static readonly EntryOrder Instance = new();

        public int Compare(DedupEntry x, DedupEntry y) => x.Key.CompareTo(y.Key);
    }

    /// <summary>Merges the newest run into the next while that one is no more than twice its size: run sizes fall off geometrically, so lookups search few.</summary>
    private void Compact()
    {
        while (true)
        {
            var runs = _view.Runs;
            if (runs.Length < 2 || runs[1].Count > 2 * runs[0].Count)
            {
                return;
            }
            var (newer, older) = (runs[0], runs[1]);
            var now = _time.GetUtcNow();
            var kept = 0L;
            var merged = Merge(newer.Entries(), older.Entries()).Where(e => !e.ExpiredAt(now, _window)).Select(e =>
            {
                kept++;
                return e;
            });
            var coverage = new Dictionary<string, long>(older.Coverage, StringComparer.Ordinal);
            foreach (var (partition, rowid) in newer.Coverage)
            {
                coverage[partition] = Math.Max(coverage.GetValueOrDefault(partition), rowid);
            }
            var run = DedupRun.Write(_directory, Interlocked.Increment(ref _nextSeq) - 1, merged, newer.Count + older.Count, coverage);
            lock (_viewLock)
            {
                var current = _view.Runs;
                if (current.IndexOf(newer) != 0 || current.IndexOf(older) != 1)
                {
                    // Retention took one of them meanwhile; start again from what is there.
                    run.Dispose();
                    File.Delete(run.Path);
                    continue;
                }
                _view = _view with { Runs = current.RemoveRange(0, 2).Insert(0, run) };
            }
            Interlocked.Add(ref _forgotten, newer.Count + older.Count - kept);
            _retired.Enqueue(newer);
            _retired.Enqueue(older);
        }
    }

    /// <summary>Two key-ordered sequences as one; a key in both keeps its later claim.</summary>
    private static IEnumerable<DedupEntry> Merge(IEnumerable<DedupEntry> first, IEnumerable<DedupEntry> second)
    {
        using var a = first.GetEnumerator();
        using var b = second.GetEnumerator();
        bool hasA = a.MoveNext(), hasB = b.MoveNext();
        while (hasA || hasB)
        {
            if (!hasB || (hasA && a.Current.Key < b.Current.Key))
            {
                yield return a.Current;
                hasA = a.MoveNext();
            }
            else if (!hasA || b.Current.Key < a.Current.Key)
            {
                yield return b.Current;
                hasB = b.MoveNext();
            }
            else
            {
                yield return EventIds.TimeOf(a.Current.Event) >= EventIds.TimeOf(b.Current.Event) ? a.Current : b.Current;
                hasA = a.MoveNext();
                hasB = b.MoveNext();
            }
        }
    }

    /// <summary>Drops every run whose newest claim has expired; how many claims were forgotten since the last call (those merges dropped included).</summary>
    public long Purge()
    {
        // Not while the background merges: it may be reading a run this drops.
        _background.Wait();
        var now = _time.GetUtcNow();
        lock (_viewLock)
        {
            var expired = _view.Runs.Where(r => r.NewestClaim + _window <= now).ToList();
            if (expired.Count > 0)
            {
                _view = _view with { Runs = _view.Runs.RemoveRange(expired) };
                foreach (var run in expired)
                {
                    Interlocked.Add(ref _forgotten, run.Count);
                    _retired.Enqueue(run);
                }
            }
        }
        return Interlocked.Exchange(ref _forgotten, 0);
    }

    /// <summary>Writes what is in memory out (a restart then reads nothing back) and closes the runs.</summary>
    public void Dispose()
    {
        FlushNow();
        foreach (var run in _view.Runs)
        {
            run.Dispose();
        }
        while (_retired.TryDequeue(out var retired))
        {
            retired.Dispose();
            File.Delete(retired.Path);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3110, Level = LogLevel.Warning, Message = "dedup run {File} set aside ({Reason}): every event still inside the dedup window is read back instead")]
        public static partial void BadRun(ILogger logger, string file, string reason);

        [LoggerMessage(EventId = 3111, Level = LogLevel.Error, Message = "could not write {Count} dedup keys to a run ({Reason}); they stay in memory and the next flush tries again")]
        public static partial void FlushFailed(ILogger logger, int count, string reason);
    }
}
