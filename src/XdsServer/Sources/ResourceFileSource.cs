using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Sources;

/// <summary>
/// Serves the resources file to every node and pushes each edit live. A change is noticed through
/// the file system and, as a safety net for missed events (editors that swap files, mounted config
/// maps), by polling the content hash. A refused edit is logged with every problem; the last good
/// snapshot keeps serving.
/// </summary>
internal sealed partial class ResourceFileSource(
    IOptions<XdsServerOptions> options,
    ISnapshotCache cache,
    TimeProvider time,
    ILogger<ResourceFileSource> logger) : BackgroundService
{
    private readonly SemaphoreSlim _changed = new(0, 1);
    private byte[]? _lastHash;
    private volatile ResourceFileStatus _status = ResourceFileStatus.None;

    public ResourceFileStatus Status => _status;

    /// <summary>
    /// Loads the file once, before anything is served; a refused file throws with every problem
    /// listed (there is no last good snapshot yet, so there is nothing to keep serving). Idempotent.
    /// </summary>
    public void LoadInitial()
    {
        var path = options.Value.ResourcesFile;
        if (string.IsNullOrEmpty(path) || _lastHash is not null)
        {
            return;
        }
        if (!File.Exists(path))
        {
            throw new ResourceFileException(path, [$"the file does not exist (working directory '{Environment.CurrentDirectory}'). Pass an existing file with --resources, e.g. envoy-config/examples/resources.yaml."]);
        }
        if (!TryLoad(path, initial: true, out var error))
        {
            _lastHash = null;
            throw error!;
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(options.Value.ResourcesFile))
        {
            return Task.CompletedTask;
        }
        LoadInitial();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var path = Path.GetFullPath(options.Value.ResourcesFile!);
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        FileSystemEventHandler onChange = (_, _) => Signal();
        watcher.Changed += onChange;
        watcher.Created += onChange;
        watcher.Renamed += (_, _) => Signal();
        watcher.EnableRaisingEvents = true;
        var poll = options.Value.ResourcesPollInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                wait.CancelAfter(poll);
                await _changed.WaitAsync(wait.Token).ConfigureAwait(false);
                // Let a writer finish: editors write in several steps.
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // Poll interval elapsed.
            }
            catch (OperationCanceledException)
            {
                break;
            }
            TryLoad(path, initial: false, out _);
        }
    }

    private void Signal()
    {
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled.
            }
        }
    }

    private bool TryLoad(string path, bool initial, out ResourceFileException? error)
    {
        error = null;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            Log.Rejected(logger, path, e.Message);
            return false;
        }
        catch (UnauthorizedAccessException e)
        {
            Log.Rejected(logger, path, e.Message);
            return false;
        }
        var hash = SHA256.HashData(bytes);
        if (_lastHash is not null && hash.AsSpan().SequenceEqual(_lastHash))
        {
            return true;
        }
        _lastHash = hash;
        try
        {
            var snapshot = ResourceFileParser.Parse(path, System.Text.Encoding.UTF8.GetString(bytes));
            var update = cache.PublishDefault(snapshot);
            if (!update.Accepted)
            {
                throw new ResourceFileException(path, update.Errors);
            }
            _status = _status with { Path = path, ServingVersion = snapshot.Version, LoadedAt = time.GetUtcNow() };
            Log.Loaded(logger, path, snapshot.Version, snapshot.Summary);
            return true;
        }
        catch (ResourceFileException e)
        {
            error = e;
            _status = _status with { Path = path, LastErrors = e.Errors, LastErrorAt = time.GetUtcNow() };
            if (!initial)
            {
                Log.Rejected(logger, path, e.Message);
            }
            return false;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.ResourcesLoaded, Level = LogLevel.Information, Message = "serving resources file '{Path}' as version {Version} ({Counts})")]
        public static partial void Loaded(ILogger logger, string path, string version, string counts);

        [LoggerMessage(EventId = LogEventIds.ResourcesRejected, Level = LogLevel.Error, Message = "refused resources file '{Path}'; the last good snapshot keeps serving. {Problems}")]
        public static partial void Rejected(ILogger logger, string path, string problems);
    }
}
