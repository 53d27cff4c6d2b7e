using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Client;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Ingester.Policies;

/// <summary>
/// The ingester's endpoint config: ZenMesh's own EndpointPolicy resources over delta ADS from the
/// agent's relay (or the control plane), as a client of its edge. The last state received is stored
/// in the data directory and used at once on the next start, whether or not xDS answers: a webhook
/// is never refused as unknown just because the ingester restarted during an outage.
/// </summary>
internal sealed partial class ConfigSubscription(
    IOptions<IngesterOptions> options,
    EndpointPolicies policies,
    ConfigStatus status,
    TimeProvider time,
    ILoggerFactory loggers) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger<ConfigSubscription>();

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Before the listener opens: the stored config is in force for the first request.
        Store = new GenerationStore(Path.Combine(options.Value.DataDir, "config"), 3, loggers.CreateLogger<GenerationStore>());
        if (Store.LoadNewest() is { } stored)
        {
            Apply(stored.Snapshot, $"last-known-good {Path.GetFileName(stored.File)}", stored.ReceivedAt);
            Resume = stored.Snapshot;
        }
        return base.StartAsync(cancellationToken);
    }

    private GenerationStore Store { get; set; } = null!;

    private Snapshot Resume { get; set; } = Snapshot.Empty;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var channel = GrpcChannel.ForAddress(options.Value.Xds);
        var subscriber = new DeltaSubscriber(channel, options.Value.Edge, [TypeUrls.EndpointPolicy], time, _logger);
        var current = Resume.Version;
        await subscriber.RunAsync(Resume, state =>
        {
            if (state.Version == current)
            {
                return;
            }
            current = state.Version;
            var now = time.GetUtcNow();
            Apply(state, "xds", now);
            try
            {
                Store.Save(state, now);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.SaveFailed(_logger, e.Message);
            }
        }, status.Connection, stoppingToken).ConfigureAwait(false);
    }

    private void Apply(Snapshot snapshot, string source, DateTimeOffset receivedAt)
    {
        policies.Replace(snapshot.Get(TypeUrls.EndpointPolicy).Resources.Values.Select(r => r.Body.Unpack<EndpointPolicy>()));
        status.Serving(snapshot.Version, source, receivedAt);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3200, Level = LogLevel.Error, Message = "could not store the endpoint config: {Reason}; using it anyway")]
        public static partial void SaveFailed(ILogger logger, string reason);
    }
}
