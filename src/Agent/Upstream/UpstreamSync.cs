using Envoy.Config.Core.V3;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.LastKnownGood;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Agent.Status;
using ZenMesh.Hosting.Resilience;
using ZenMesh.Xds.Client;

namespace ZenMesh.Agent.Upstream;

/// <summary>
/// The agent's one outbound connection: the delta xDS client (<see cref="DeltaClient"/>) to the
/// control plane as the edge's node, subscribed to everything of every type. Each whole state it
/// reaches is served to the local clients and stored as a new generation; an inconsistent one
/// (clusters before their endpoints) waits for the rest. The local clients' rejections go upstream
/// as NACKs.
/// </summary>
internal sealed partial class UpstreamSync(
    IOptions<AgentOptions> options,
    UpstreamChannel upstream,
    UpstreamReports reports,
    LocalVerdicts verdicts,
    ISnapshotCache cache,
    GenerationStore store,
    AgentStatus status,
    TimeProvider time,
    ILogger<UpstreamSync> logger) : BackgroundService
{
    private readonly AgentOptions _options = options.Value;
    private string? _published;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // What the last-known-good loader is serving is where the stream resumes from.
        var served = cache.Current("");
        _published = served.Types.IsEmpty ? null : served.Version;
        var node = new Node { Id = _options.Edge, Cluster = "zenmesh-agent", UserAgentName = "zenmesh-agent", UserAgentVersion = typeof(UpstreamSync).Assembly.GetName().Version?.ToString() ?? "" };
        var client = new DeltaClient(upstream.Channel, node, TypeUrls.PushOrder, time, logger)
        {
            Backoff = new Backoff(_options.ReconnectDelay, _options.MaxReconnectDelay),
            Source = $"control plane {_options.ControlPlane}",
            Rejections = reports.Rejections,
            BeforeStream = () =>
            {
                if (upstream.UsesTls && upstream.Credentials.Current is null)
                {
                    throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, $"No edge credential in {Path.GetFullPath(Identity.CredentialFiles.Directory(_options.StateDir))}, and {_options.ControlPlane} requires one. Enroll first: agent enroll --bundle <file> --state-dir {_options.StateDir}."));
                }
            },
        };
        await client.RunAsync(served, state =>
        {
            status.Contact();
            Publish(state);
        }, (connected, reason) =>
        {
            if (connected)
            {
                status.Connected();
            }
            else
            {
                status.Disconnected(reason ?? "disconnected");
            }
        }, stoppingToken).ConfigureAwait(false);
    }

    private void Publish(Snapshot snapshot)
    {
        if (snapshot.Version == _published)
        {
            return;
        }
        var update = cache.PublishDefault(snapshot);
        if (!update.Accepted)
        {
            // Typically clusters whose endpoints are the next response: serve the last whole state meanwhile.
            var (summary, errors) = (snapshot.Summary, string.Join("; ", update.Errors));
            Log.Incomplete(logger, summary, errors);
            return;
        }
        _published = snapshot.Version;
        verdicts.LiftPins();
        try
        {
            var generation = store.Save(snapshot, time.GetUtcNow());
            status.Serving(generation, "control plane", confirmed: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Serving goes on; only a restart during this outage would miss this version.
            Log.SaveFailed(logger, store.Directory, e.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.IncompleteConfig, Level = LogLevel.Debug, Message = "holding back an incomplete state ({Summary}: {Errors}) until the rest arrives")]
        public static partial void Incomplete(ILogger logger, string summary, string errors);

        [LoggerMessage(EventId = LogEventIds.GenerationSaveFailed, Level = LogLevel.Error, Message = "could not store the new config in {Directory}: {Reason}; still serving it")]
        public static partial void SaveFailed(ILogger logger, string directory, string reason);
    }
}
