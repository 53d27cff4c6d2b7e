using Grpc.Net.Client;
using Microsoft.Extensions.Hosting;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.LastKnownGood;

namespace ZenMesh.Xds.Client;

/// <summary>Where a service subscribes: its xDS source (the agent's relay or the control plane), its node id, its data directory.</summary>
public sealed record PolicySource(string Xds, string Edge, string DataDir);

/// <summary>
/// A data-plane service's own config (ZenMesh's policy resources) over delta ADS, as a client of
/// its edge. The last state received is stored in the data directory and applied at once on the
/// next start, whether or not xDS answers: a restart during a control-plane outage serves on
/// last-known-good (fail static).
/// </summary>
public sealed partial class PolicySubscription(
    PolicySource source,
    string typeUrl,
    Action<TypeSnapshot> apply,
    ConfigStatus status,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<PolicySubscription>();
    private GenerationStore _store = null!;
    private Snapshot _resume = Snapshot.Empty;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the listener opens: the stored config is in force for the first request.
        _store = new GenerationStore(Path.Combine(source.DataDir, "config"), 3, loggers.CreateLogger<GenerationStore>());
        if (_store.LoadNewest() is { } stored)
        {
            Apply(stored.Snapshot, $"last-known-good {Path.GetFileName(stored.File)}", stored.ReceivedAt);
            _resume = stored.Snapshot;
        }
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var channel = GrpcChannel.ForAddress(source.Xds);
        var subscriber = new DeltaClient(channel, new Envoy.Config.Core.V3.Node { Id = source.Edge, UserAgentName = "zenmesh" }, [typeUrl], time, _logger);
        var current = _resume.Version;
        await subscriber.RunAsync(_resume, state =>
        {
            if (state.Version == current)
            {
                return;
            }
            current = state.Version;
            var now = time.GetUtcNow();
            // Stored before it is used: whatever a request was served on, a restart finds again.
            try
            {
                _store.Save(state, now);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.SaveFailed(_logger, e.Message);
            }
            Apply(state, "xds", now);
        }, status.Connection, stoppingToken).ConfigureAwait(false);
    }

    private void Apply(Snapshot snapshot, string from, DateTimeOffset receivedAt)
    {
        apply(snapshot.Get(typeUrl));
        status.Serving(snapshot.Version, from, receivedAt);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1111, Level = LogLevel.Error, Message = "could not store the config: {Reason}; using it anyway")]
        public static partial void SaveFailed(ILogger logger, string reason);
    }
}
