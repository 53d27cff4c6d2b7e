using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;
using ZenMesh.Hosting.Resilience;

namespace ZenMesh.Egress.Intake;

/// <summary>
/// Takes delivery jobs from the ingester over the stream the egress opens (outbound only):
/// subscribes to the flows in its config, records whatever has arrived in one transaction, and
/// only then acknowledges those jobs. A job the egress took but did not record (a crash) is handed
/// out again when its lease runs out; one it recorded twice is kept once. A change in the set of
/// flows resubscribes; a broken stream reconnects with the one backoff (<see cref="ReconnectLoop"/>).
/// </summary>
public sealed partial class JobReceiver(
    FlowPolicies policies,
    IDeliveryStore store,
    DeliveryScheduler scheduler,
    IntakeStatus status,
    IOptions<EgressOptions> options,
    TimeProvider time,
    ILogger<JobReceiver> logger) : BackgroundService
{
    private const int MostPerCommit = 500;

    private string? OrderingKeyOf(DeliveryJob job) =>
        policies.OrderingOf(job.Tenant, job.Flow)?.Of(job.Headers, job.Body.Memory);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var channel = GrpcChannel.ForAddress(options.Value.Ingester, new GrpcChannelOptions { HttpHandler = StreamHandler() });
        var client = new Events.EventsClient(channel);
        var loop = new ReconnectLoop(Backoff.Default, time, e => e is RpcException or System.Data.Common.DbException or IOException);
        await loop.RunAsync(
            (progressed, token) => SubscribeWhileFlowsLastAsync(client, progressed, token),
            (lost, delay) =>
            {
                switch (lost)
                {
                    case null:
                        status.Connection(false, "the ingester ended the stream");
                        break;
                    case RpcException e:
                        status.Connection(false, $"the ingester at {options.Value.Ingester} is unavailable: {e.Status.StatusCode} {e.Status.Detail}");
                        Log.StreamFailed(logger, options.Value.Ingester, e.Status.StatusCode.ToString(), e.Status.Detail, delay.TotalSeconds);
                        break;
                    default:
                        status.Connection(false, $"could not record jobs: {lost.Message}");
                        Log.RecordFailed(logger, lost.Message);
                        break;
                }
            },
            stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        status.Connection(false, "stopped");
    }

    /// <summary>
    /// Subscriptions to the current flows, a new one each time the set of flows changes (that is no
    /// failure, so no backoff), until one ends or fails.
    /// </summary>
    private async Task SubscribeWhileFlowsLastAsync(Events.EventsClient client, Action progressed, CancellationToken stoppingToken)
    {
        while (true)
        {
            stoppingToken.ThrowIfCancellationRequested();
            var flows = Flows();
            if (flows.Count == 0)
            {
                status.Connection(false, "no flows in this edge's config yet; nothing to subscribe to");
                await ChangedAsync(flows, TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                continue;
            }
            using var resubscribe = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            var watch = WatchFlowsAsync(flows, resubscribe);
            try
            {
                await SubscribeAsync(client, flows, progressed, resubscribe.Token).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (resubscribe.IsCancellationRequested && !stoppingToken.IsCancellationRequested && e is OperationCanceledException or RpcException or ChannelClosedException)
            {
                status.Connection(false, "resubscribing: the flows changed");
            }
            finally
            {
                await resubscribe.CancelAsync().ConfigureAwait(false);
                await watch.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>With an enrolled edge, mutual TLS with the edge's certificate: the ingester must hold it too.</summary>
    private SocketsHttpHandler StreamHandler()
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        if (options.Value.IngesterCredentialDir is { Length: > 0 } dir)
        {
            var peers = new ZenMesh.Secrets.EdgePeerTrust(dir);
            handler.SslOptions.RemoteCertificateValidationCallback = peers.ServerValidation;
            // Chosen at each handshake, so a certificate the agent renewed is the one presented.
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => peers.Current().Certificate;
        }
        return handler;
    }

    /// <summary>The ingester's stream secret, read again for each subscription (so a secret that appears or changes is picked up).</summary>
    private Metadata SubscriberHeaders()
    {
        var o = options.Value;
        var secret = o.IngesterSecret is { Length: > 0 } value ? value
            : o.IngesterSecretFile is { Length: > 0 } file && File.Exists(file) ? File.ReadAllText(file).Trim()
            : null;
        return secret is null ? [] : new Metadata { { "authorization", $"Bearer {secret}" } };
    }

    private async Task SubscribeAsync(Events.EventsClient client, IReadOnlySet<string> flows, Action connected, CancellationToken cancellationToken)
    {
        using var call = client.Subscribe(SubscriberHeaders(), cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new SubscribeRequest
        {
            Subscription = new Subscription
            {
                Consumer = $"egress@{Environment.MachineName}",
                Flows = { flows.Order(StringComparer.Ordinal) },
                MaxUnacked = (uint)options.Value.MaxUnacked,
                Lease = Duration.FromTimeSpan(options.Value.Lease),
            },
        }, cancellationToken).ConfigureAwait(false);

        // Reading and recording overlap: while one batch commits, the next gathers here.
        var arrived = Channel.CreateBounded<DeliveryJob>(new BoundedChannelOptions(options.Value.MaxUnacked) { SingleReader = true, SingleWriter = true });
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var job in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                {
                    await arrived.Writer.WriteAsync(job, cancellationToken).ConfigureAwait(false);
                }
                arrived.Writer.TryComplete();
            }
            catch (Exception e)
            {
                arrived.Writer.TryComplete(e);
            }
        }, cancellationToken);

        var first = true;
        var batch = new List<DeliveryJob>(MostPerCommit);
        while (await arrived.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (first)
            {
                status.Connection(true, null);
                connected();
                first = false;
            }
            batch.Clear();
            while (batch.Count < MostPerCommit && arrived.Reader.TryRead(out var job))
            {
                batch.Add(job);
            }
            var recorded = await store.RecordAsync(batch, OrderingKeyOf, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            var acks = new JobAcks();
            acks.JobIds.AddRange(batch.Select(j => j.JobId));
            await call.RequestStream.WriteAsync(new SubscribeRequest { Acks = acks }, cancellationToken).ConfigureAwait(false);
            status.Took(batch.Count, recorded);
            foreach (var (tenant, flow) in batch.Select(j => (j.Tenant, j.Flow)).Distinct())
            {
                scheduler.Wake(tenant, flow);
            }
        }
        await reader.ConfigureAwait(false);
    }

    private HashSet<string> Flows() =>
        policies.All.Values.Where(p => p.Enabled).Select(p => p.Flow).ToHashSet(StringComparer.Ordinal);

    /// <summary>Cancels the subscription once the set of flows differs from <paramref name="subscribed"/>.</summary>
    private async Task WatchFlowsAsync(IReadOnlySet<string> subscribed, CancellationTokenSource resubscribe)
    {
        await ChangedAsync(subscribed, Timeout.InfiniteTimeSpan, resubscribe.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (!resubscribe.IsCancellationRequested)
        {
            await resubscribe.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task ChangedAsync(IReadOnlySet<string> from, TimeSpan atMost, CancellationToken cancellationToken)
    {
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(IReadOnlyDictionary<string, FlowPolicy> _)
        {
            if (!Flows().SetEquals(from))
            {
                changed.TrySetResult();
            }
        }
        policies.Changed += OnChange;
        try
        {
            OnChange(policies.All);
            await changed.Task.WaitAsync(atMost, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        finally
        {
            policies.Changed -= OnChange;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6500, Level = LogLevel.Warning, Message = "the job stream from the ingester at {Address} failed: {Code} {Detail}; reconnecting in {Seconds} s")]
        public static partial void StreamFailed(ILogger logger, string address, string code, string detail, double seconds);

        [LoggerMessage(EventId = 6501, Level = LogLevel.Error, Message = "could not record delivery jobs: {Reason}; they were not acknowledged and will be handed out again")]
        public static partial void RecordFailed(ILogger logger, string reason);
    }
}
