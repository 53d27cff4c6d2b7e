using Microsoft.Win32.SafeHandles;
using ZenMesh.Xds.LastKnownGood;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Keeps the next segments of the log zero-filled and synced ahead of the writer, on a thread of its
/// own, so a commit only ever writes over zeroes: the file's size and blocks never change under a
/// commit, and its fdatasync flushes data alone. Zeroes go in 4 KiB writes: one large write leaves the
/// file in large page-cache folios, and then every small commit wrote back a whole folio (session 15).
/// A file gets its "{seq}.seg" name only once it is whole and synced, and the rename is synced too:
/// a segment the writer uses is on disk with its name before any record is in it.
/// Segments are handed out in seq order, which is the log's order.
/// </summary>
internal sealed partial class SegmentPreparer : IDisposable
{
    private const int Page = 4096;
    // A segment's zeroes reach the disk a MiB at a time: 64 MiB at once queued ahead of a commit's
    // flush held it for tens of milliseconds.
    private const int WriteOutEvery = 1 << 20;
    private static readonly byte[] Zeroes = new byte[Page];
    private readonly string _directory;
    private readonly long _size;
    private readonly int _spares;
    private readonly ILogger _logger;
    // Monitor, not Lock: both sides wait on it (Monitor.Wait) for the other.
    private readonly object _gate = new();
    private readonly Queue<long> _ready = new();
    private readonly Thread _thread;
    private long _next;
    private bool _stopping;
    private string? _failure;

    public SegmentPreparer(string directory, long firstSeq, long size, int spares, ILogger logger)
    {
        _directory = directory;
        _next = firstSeq;
        _size = size;
        _spares = spares;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = "zenmesh-log-segments" };
        _thread.Start();
    }

    /// <summary>The next segment, opened for writing, at least <paramref name="atLeast"/> bytes long. Waits while it is being zeroed.</summary>
    public Segment Take(long atLeast)
    {
        long seq;
        lock (_gate)
        {
            while (_ready.Count == 0)
            {
                if (_failure is not null)
                {
                    throw new IOException($"no log segment is ready in {_directory}: {_failure}");
                }
                ObjectDisposedException.ThrowIf(_stopping, this);
                Monitor.Wait(_gate);
            }
            seq = _ready.Dequeue();
            Monitor.PulseAll(_gate);
        }
        var path = Path.Combine(_directory, Segment.FileName(seq));
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        var size = RandomAccess.GetLength(handle);
        if (size < atLeast)
        {
            // A record larger than a segment: this one is made longer for it, zeroes synced before use.
            ZeroFill(handle, size, atLeast);
            DataSync.Flush(handle);
            size = atLeast;
        }
        return new Segment(seq, path, handle, size);
    }

    private void Run()
    {
        while (true)
        {
            long seq;
            lock (_gate)
            {
                while (!_stopping && _ready.Count >= _spares)
                {
                    Monitor.Wait(_gate);
                }
                if (_stopping)
                {
                    return;
                }
                seq = _next;
            }
            try
            {
                Prepare(seq);
                lock (_gate)
                {
                    _next++;
                    _ready.Enqueue(seq);
                    _failure = null;
                    Monitor.PulseAll(_gate);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.PrepareFailed(_logger, seq, e.Message);
                lock (_gate)
                {
                    _failure = e.Message;
                    Monitor.PulseAll(_gate);
                    // Retried after a second (a full disk may be cleared meanwhile); Take fails fast until then.
                    Monitor.Wait(_gate, TimeSpan.FromSeconds(1));
                }
            }
        }
    }

    private void Prepare(long seq)
    {
        var final = Path.Combine(_directory, Segment.FileName(seq));
        var temporary = final + ".zeroing";
        using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
        {
            ZeroFill(handle, 0, _size);
            DataSync.Flush(handle);
        }
        File.Move(temporary, final, overwrite: true);
        DirectorySync.Flush(_directory);
    }

    private static void ZeroFill(SafeFileHandle handle, long from, long to)
    {
        for (var at = from; at < to; at += Page)
        {
            var length = (int)Math.Min(Page, to - at);
            RandomAccess.Write(handle, Zeroes.AsSpan(0, length), at);
            if ((at + length - from) % WriteOutEvery == 0 || at + length >= to)
            {
                var start = Math.Max(from, at + length - WriteOutEvery);
                DataSync.WriteOut(handle, start, at + length - start);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
        _thread.Join();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3120, Level = LogLevel.Error, Message = "could not prepare event log segment {Seq}: {Reason}; retrying in a second, webhooks get 503 if the log runs out of room meanwhile")]
        public static partial void PrepareFailed(ILogger logger, long seq, string reason);
    }
}
