using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage.Dedup;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// The embedded store as an append-only log of its own (--store log; the default for a new data
/// directory): each group commit is one write of its records into a segment zero-filled ahead of
/// time, then one fdatasync. No b-tree, no page copy, no journal commit under the sync. Events,
/// their delivery jobs and the jobs' acknowledgements are records; what leases and status need
/// (open jobs, events per endpoint) is kept in memory without the payloads, and rebuilt when the
/// store opens from its last checkpoint and the records after it. Dedup keys go to the same
/// <see cref="DedupIndex"/> as the SQLite store's, covered by (segment, where the record ends).
/// Retention deletes whole segment files, each of which holds one UTC day.
/// One process per directory: a lock file says so at once, instead of two writers corrupting one log.
/// </summary>
public sealed partial class LogEventStore : GroupCommitStore
{
    private readonly string _directory;
    private readonly FileStream _lockFile;
    private readonly DedupIndex _dedup;
    private readonly SegmentPreparer _preparer;
    // Guards the segments, the open jobs and each segment's counts, between the writer and readers.
    private readonly Lock _gate = new();
    private readonly SortedDictionary<long, Segment> _segments = [];
    private readonly OpenJobs _jobs = new();
    private Segment? _current;
    private byte[] _buffer = new byte[1 << 20];

    public LogEventStore(IOptions<IngesterOptions> options, TimeProvider time, ILogger<LogEventStore> logger)
        : base(options.Value, time, logger)
    {
        _directory = Path.GetFullPath(Path.Combine(Options.DataDir, "log"));
        StoreKinds.RefuseSwitch(Options.DataDir, to: "log");
        Directory.CreateDirectory(_directory);
        _lockFile = LockDirectory(_directory);
        try
        {
            _dedup = new DedupIndex(Path.Combine(_directory, "dedup"), Options.DedupWindow, time, logger, Options.DedupRunSize);
            var next = Recover();
            _preparer = new SegmentPreparer(_directory, next, Options.LogSegmentBytes, spares: 2, logger);
        }
        catch
        {
            _lockFile.Dispose();
            throw;
        }
        StartWriter(_jobs.Count);
    }

    public override string Location => _directory;

    private static FileStream LockDirectory(string directory)
    {
        var path = Path.Combine(directory, "LOCK");
        try
        {
            // FileShare.None is an exclusive flock on Unix: released by the kernel however the process ends.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"the event log in {directory} is in use by another ingester ({e.Message}); give each ingester a --data-dir of its own, or share events through --postgres", e);
        }
    }

    public override long Count(string tenant, string endpoint)
    {
        lock (_gate)
        {
            return _segments.Values.Sum(s => s.Events.GetValueOrDefault((tenant, endpoint)));
        }
    }

    public override byte[]? Body(string eventId)
    {
        if (EventIds.UuidOf(eventId) is not { } uuid)
        {
            return null;
        }
        var ms = EventIds.TimeOf(uuid).ToUnixTimeMilliseconds();
        List<(Segment Segment, int End)> candidates;
        lock (_gate)
        {
            candidates = [.. _segments.Values.Where(s => s.HasEvents && s.Oldest.ToUnixTimeMilliseconds() <= ms && ms <= s.Newest.ToUnixTimeMilliseconds()).Select(s => (s, s.End))];
        }
        foreach (var (segment, end) in candidates)
        {
            try
            {
                foreach (var (_, record) in SegmentReader.Records(segment.Handle, end))
                {
                    if (LogRecord.KindOf(record.Span) == LogRecord.Event && LogRecord.UuidOf(record.Span) == uuid)
                    {
                        return LogRecord.ReadEvent(record.Span, withPayload: true).Body;
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // Dropped by retention while we read.
            }
        }
        return null;
    }

    protected override ValueTask DisposeStoreAsync()
    {
        CheckpointAtShutdown();
        _preparer.Dispose();
        lock (_gate)
        {
            foreach (var segment in _segments.Values)
            {
                segment.Dispose();
            }
            _current?.Dispose();
        }
        _dedup.Dispose();
        _leases.Dispose();
        _lockFile.Dispose();
        return ValueTask.CompletedTask;
    }
}
