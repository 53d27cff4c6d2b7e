using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using ZenMesh.Xds.LastKnownGood;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Keeps the next segments of the log zero-filled and synced ahead of the writer, on a thread of its
/// own, so a commit only ever writes over zeroes: the file's size and blocks never change under a
/// commit, and its fdatasync flushes data alone. Zeroes go straight to the disk (O_DIRECT), so none of
/// them pass through the page cache, and the writer pads each write to a whole page so it never reads
/// one back (session 20). Where the file system has no O_DIRECT, they go in 4 KiB buffered writes: one
/// large write leaves the file in large page-cache folios, and then every small commit wrote back a
/// whole folio (session 15).
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
    private const int PaceRest = 3;
    // EINVAL, as .NET reports an errno it has no exception for.
    private const int InvalidArgument = 22;
    private static readonly byte[] Zeroes = new byte[Page];
    private readonly string _directory;
    private readonly long _size;
    private readonly int _spares;
    private readonly ILogger _logger;
    // Monitor, not Lock: both sides wait on it (Monitor.Wait) for the other.
    private readonly object _gate = new();
    private readonly Queue<long> _ready = new();
    private readonly Thread _thread;
    private readonly Memory<byte> _directZeroes = DirectIo.AlignedBuffer(WriteOutEvery);
    // Only the preparer's thread reads or writes it.
    private bool _direct = true;
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
            var zeroed = _direct ? ZeroFillDirect(handle) : 0;
            ZeroFill(handle, zeroed, _size);
            DataSync.Flush(handle);
        }
        File.Move(temporary, final, overwrite: true);
        DirectorySync.Flush(_directory);
    }

    /// <summary>
    /// Zeroes the segment's whole pages straight to the disk, a MiB at a time (each write waits for the
    /// disk, so no more than that is queued ahead of a commit's flush); returns how far it got. Where
    /// the file system refuses O_DIRECT, 0, and buffered writes are used from then on.
    /// </summary>
    private long ZeroFillDirect(SafeFileHandle handle)
    {
        var whole = _size / DirectIo.Alignment * DirectIo.Alignment;
        if (!DirectIo.TrySet(handle, direct: true))
        {
            _direct = false;
            return 0;
        }
        try
        {
            for (var at = 0L; at < whole; at += WriteOutEvery)
            {
                var started = Stopwatch.GetTimestamp();
                RandomAccess.Write(handle, _directZeroes.Span[..(int)Math.Min(WriteOutEvery, whole - at)], at);
                PaceAfter(Stopwatch.GetElapsedTime(started));
            }
        }
        catch (IOException e) when (e.HResult == InvalidArgument)
        {
            // Some file systems take the flag and then refuse aligned writes (EINVAL): this one stays
            // buffered. Any other failure (a full disk) is the segment's, and is retried as before.
            Log.DirectRefused(_logger, _directory, e.Message);
            _direct = false;
            DirectIo.TrySet(handle, direct: false);
            return 0;
        }
        if (whole < _size && !DirectIo.TrySet(handle, direct: false))
        {
            throw new IOException($"could not turn O_DIRECT off on {_directory} to zero a segment's last {_size - whole} bytes");
        }
        return whole;
    }

    /// <summary>
    /// While the writer has a spare segment ready, rests three times as long as the last MiB took: back
    /// to back, direct zeroes filled the disk's cache between two commits, and each commit's flush
    /// waited for them. A writer with no spare left gets its segment at the disk's full speed.
    /// </summary>
    private void PaceAfter(TimeSpan took)
    {
        lock (_gate)
        {
            if (_ready.Count > 0 && !_stopping)
            {
                Monitor.Wait(_gate, took * PaceRest);
            }
        }
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

        [LoggerMessage(EventId = 3121, Level = LogLevel.Warning, Message = "the file system of {Directory} took O_DIRECT but refused a direct write ({Reason}); log segments are zeroed through the page cache from now on, which costs more CPU")]
        public static partial void DirectRefused(ILogger logger, string directory, string reason);
    }
}
