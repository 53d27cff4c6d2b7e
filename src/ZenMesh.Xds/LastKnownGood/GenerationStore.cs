using System.Globalization;
using ZenMesh.Data;
using ZenMesh.Xds.Cache;

namespace ZenMesh.Xds.LastKnownGood;

/// <summary>
/// Accepted snapshots on disk, newest last: each written to a temporary file, fsync'd, renamed into
/// place and the directory fsync'd, so a crash leaves the old generation or the new one, never half
/// of one. The newest valid generation is what a restarted process (the edge agent, an ingester)
/// serves or uses at once; a corrupt one is reported and skipped for the one before it.
/// </summary>
public sealed partial class GenerationStore
{
    private const string Extension = ".lkg";
    private readonly string _directory;
    private readonly int _keep;
    private readonly ILogger<GenerationStore> _logger;
    private readonly Lock _gate = new();
    private long _lastSequence;
    private Generation? _newest;

    public GenerationStore(string directory, int keep, ILogger<GenerationStore> logger)
    {
        _directory = Path.GetFullPath(directory);
        _keep = keep;
        _logger = logger;
        // Durably: a generation renamed into a directory whose own entry never reached the disk is lost with it.
        DirectorySync.CreateDurably(_directory);
        _lastSequence = Files().Select(f => f.Sequence).DefaultIfEmpty().Max();
    }

    public string Directory => _directory;

    /// <summary>Stores the snapshot durably as the newest generation, and drops the oldest beyond the number kept.</summary>
    public Generation Save(Snapshot snapshot, DateTimeOffset receivedAt)
    {
        lock (_gate)
        {
            var sequence = ++_lastSequence;
            var file = Path.Combine(_directory, string.Create(CultureInfo.InvariantCulture, $"gen-{sequence:D10}{Extension}"));
            var temporary = file + ".tmp";
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(GenerationFormat.Write(snapshot, receivedAt));
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, file, overwrite: true);
            // A rename is durable only once the directory entry is.
            DirectorySync.Flush(_directory);
            foreach (var old in Files().OrderByDescending(f => f.Sequence).Skip(_keep))
            {
                File.Delete(old.Path);
            }
            Log.Saved(_logger, sequence, snapshot.Version, file);
            _newest = new Generation(sequence, snapshot, receivedAt, file);
            return _newest;
        }
    }

    /// <summary>
    /// Takes the newest generation out of last-known-good if it holds <paramref name="version"/>
    /// (renamed to .rejected, kept for inspection); returns its file, or null when it is not there.
    /// </summary>
    public string? Reject(string version)
    {
        lock (_gate)
        {
            if (_newest is not { } newest || newest.Snapshot.Version != version || !File.Exists(newest.File))
            {
                return null;
            }
            var rejected = Path.ChangeExtension(newest.File, ".rejected");
            File.Move(newest.File, rejected, overwrite: true);
            DirectorySync.Flush(_directory);
            _newest = null;
            return newest.File;
        }
    }

    /// <summary>The newest generation that reads back intact, or null; every corrupt one on the way is logged.</summary>
    public Generation? LoadNewest()
    {
        foreach (var (sequence, path) in Files().OrderByDescending(f => f.Sequence))
        {
            try
            {
                var (snapshot, receivedAt) = GenerationFormat.Read(File.ReadAllBytes(path));
                lock (_gate)
                {
                    _newest = new Generation(sequence, snapshot, receivedAt, path);
                    return _newest;
                }
            }
            catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException or FormatException or Google.Protobuf.InvalidProtocolBufferException or ArgumentException)
            {
                Log.Corrupt(_logger, path, e.Message);
            }
        }
        return null;
    }

    private IEnumerable<(long Sequence, string Path)> Files() =>
        System.IO.Directory.EnumerateFiles(_directory, "gen-*" + Extension)
            .Select(p => (long.TryParse(Path.GetFileNameWithoutExtension(p)["gen-".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1, p))
            .Where(f => f.Item1 >= 0);

    private static partial class Log
    {
        [LoggerMessage(EventId = LastKnownGoodLogEventIds.GenerationSaved, Level = LogLevel.Debug, Message = "saved generation {Sequence} (version {Version}) to {File}")]
        public static partial void Saved(ILogger logger, long sequence, string version, string file);

        [LoggerMessage(EventId = LastKnownGoodLogEventIds.CorruptGeneration, Level = LogLevel.Error, Message = "last-known-good file {File} is unusable: {Reason}. Skipping it for the generation before it")]
        public static partial void Corrupt(ILogger logger, string file, string reason);
    }
}
