using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Status;
using ZenMesh.Contracts.V1;
using ZenMesh.Xds.Status;

namespace ZenMesh.Agent.Upstream;

/// <summary>
/// Reports the edge to the control plane: agent and Envoy versions, the config served and its
/// staleness, what each local client ACKed, the last local NACK, and secrets the config names that
/// the edge lacks. On every change (at most once a second) and at least every ReportInterval.
/// </summary>
internal sealed partial class Heartbeat(
    UpstreamChannel upstream,
    AgentStatus status,
    ClientRegistry clients,
    ISnapshotCache cache,
    IOptions<AgentOptions> options,
    TimeProvider time,
    ILogger<Heartbeat> logger) : BackgroundService
{
    private static readonly TimeSpan MinimumGap = TimeSpan.FromSeconds(1);

    public static string AgentVersion { get; } = typeof(Heartbeat).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var client = new EdgeReports.EdgeReportsClient(upstream.Channel);
        var wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        void Changed() => wake.Writer.TryWrite(true);
        status.Changed += Changed;
        try
        {
            var warned = false;
            while (!stoppingToken.IsCancellationRequested)
            {
                var interval = o.ReportInterval;
                var staleness = status.Staleness(status.Current);
                if (staleness > o.StalenessBound != warned)
                {
                    warned = !warned;
                    if (warned)
                    {
                        Log.Stale(logger, status.Current.Version ?? "none", staleness, o.StalenessBound);
                    }
                }
                if (status.Current.Connected)
                {
                    try
                    {
                        var ack = await client.ReportAsync(Build(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stoppingToken).ResponseAsync.ConfigureAwait(false);
                        if (ack.NextReportSeconds > 0 && TimeSpan.FromSeconds(ack.NextReportSeconds) < interval)
                        {
                            interval = TimeSpan.FromSeconds(ack.NextReportSeconds);
                        }
                    }
                    catch (RpcException e) when (!stoppingToken.IsCancellationRequested)
                    {
                        // The config stream reports reachability; this says why a report was refused.
                        Log.Refused(logger, e.StatusCode, e.Status.Detail);
                    }
                }
                // Staleness is checked at least every StalenessBound/10 while nothing else happens.
                var tick = o.StalenessBound / 10 < interval ? o.StalenessBound / 10 : interval;
                await Task.Delay(tick < MinimumGap ? tick : MinimumGap, time, stoppingToken).ConfigureAwait(false);
                using var wait = new CancellationTokenSource(tick > MinimumGap ? tick - MinimumGap : TimeSpan.Zero, time);
                using var either = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, wait.Token);
                try
                {
                    await wake.Reader.ReadAsync(either.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // The interval passed without a change: report anyway.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            status.Changed -= Changed;
        }
    }

    private EdgeReport Build()
    {
        var s = status.Current;
        var o = options.Value;
        var report = new EdgeReport
        {
            NodeId = o.Edge,
            AgentVersion = AgentVersion,
            ServedVersion = s.Version ?? "",
            Generation = s.Generation,
            StaleSeconds = Math.Round(status.Staleness(s).TotalSeconds, 3),
        };
        if (s.ReceivedAt is { } at)
        {
            report.ReceivedAt = Timestamp.FromDateTimeOffset(at);
        }
        foreach (var view in clients.Clients())
        {
            var local = new LocalClient { NodeId = view.Node.Id, UserAgent = $"{view.Node.UserAgentName} {VersionOf(view.Node)}".Trim() };
            foreach (var type in view.Types.Values.Where(t => t.AckedVersion is not null))
            {
                local.Acked[TypeUrls.ShortName(type.TypeUrl)] = type.AckedVersion;
            }
            report.Clients.Add(local);
            if (view.Node.UserAgentName == "envoy" && report.EnvoyVersion.Length == 0)
            {
                report.EnvoyVersion = VersionOf(view.Node);
            }
        }
        report.MissingSecrets.AddRange(SecretInventory.Missing(cache.Current(""), o.SecretsDir));
        if (s.LastLocalRejection is { } r)
        {
            report.LastLocalNack = new LocalNack { NodeId = r.NodeId, TypeUrl = r.TypeUrl, Message = r.Message, At = Timestamp.FromDateTimeOffset(r.At) };
        }
        return report;
    }

    private static string VersionOf(Envoy.Config.Core.V3.Node node) =>
        node.UserAgentBuildVersion?.Version is { } v ? $"{v.MajorNumber}.{v.MinorNumber}.{v.Patch}" : node.UserAgentVersion;

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.Stale, Level = LogLevel.Warning, Message = "the config this edge serves (version {Version}) has gone unconfirmed by the control plane for {Staleness}, past the bound of {Bound}. Still serving it; check the control plane and this edge's connection to it")]
        public static partial void Stale(ILogger logger, string version, TimeSpan staleness, TimeSpan bound);

        [LoggerMessage(EventId = LogEventIds.ReportRefused, Level = LogLevel.Warning, Message = "the control plane refused the edge report ({Code}): {Detail}")]
        public static partial void Refused(ILogger logger, StatusCode code, string detail);
    }
}
