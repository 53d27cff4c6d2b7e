using System.Collections.Concurrent;
using System.Security.Cryptography;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Replays;

/// <summary>
/// Runs replays: each one queues its matching deliveries again in batches of <see cref="Batch"/>,
/// one transaction per batch, waking the lanes of the flows it touched so they deliver at once.
/// Replays still running when the egress stopped carry on from their stored cursor at start.
/// </summary>
public sealed partial class ReplayRunner(IDeliveryStore store, DeliveryScheduler scheduler, TimeProvider time, ILogger<ReplayRunner> logger) : BackgroundService
{
    /// <summary>Deliveries queued per transaction: large enough to be quick, small enough that intake and lanes get the writer between batches.</summary>
    public const int Batch = 500;

    private readonly ConcurrentDictionary<string, Task> _running = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();

    /// <summary>Stores a replay of what matches <paramref name="filter"/> now and starts queuing it.</summary>
    public async Task<Replay> BeginAsync(DeliveryQuery filter, CancellationToken cancellationToken)
    {
        var id = "rpl_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var replay = await store.CreateReplayAsync(id, filter, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        Log.Started(logger, id, replay.Matched);
        Run(id);
        return replay;
    }

    /// <summary>Stops the replay; what it queued and has not been attempted yet goes back to its previous state. Null when there is no such replay.</summary>
    public async Task<Replay?> CancelAsync(string id, CancellationToken cancellationToken)
    {
        // The store checks the replay's state inside each batch's transaction, so no batch lands after this.
        var replay = await store.CancelReplayAsync(id, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (replay is not null)
        {
            Log.Cancelled(logger, id, replay.Queued, replay.Withdrawn);
        }
        return replay;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var replay in await store.ReplaysAsync(stoppingToken).ConfigureAwait(false))
        {
            if (replay.State == ReplayStates.Running)
            {
                Log.Resumed(logger, replay.Id, replay.Queued, replay.Matched);
                Run(replay.Id);
            }
        }
    }

    private void Run(string id) => _running[id] = Task.Run(() => QueueAsync(id, _stop.Token));

    private async Task QueueAsync(string id, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var (replay, flows) = await store.ReplayBatchAsync(id, Batch, time.GetUtcNow(), stop).ConfigureAwait(false);
                    foreach (var (tenant, flow) in flows)
                    {
                        scheduler.Wake(tenant, flow);
                    }
                    if (replay.State != ReplayStates.Running)
                    {
                        if (replay.State == ReplayStates.Done)
                        {
                            Log.Queued(logger, id, replay.Queued);
                        }
                        return;
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is System.Data.Common.DbException or IOException)
                {
                    Log.StoreFailed(logger, id, e.Message);
                    await Task.Delay(TimeSpan.FromSeconds(1), time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        finally
        {
            _running.TryRemove(id, out _);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_running.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _stop.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6200, Level = LogLevel.Information, Message = "replay {Id} started: {Matched} deliveries match")]
        public static partial void Started(ILogger logger, string id, long matched);

        [LoggerMessage(EventId = 6201, Level = LogLevel.Information, Message = "replay {Id} has queued all {Queued} deliveries; GET /replays/{Id} shows how they fare")]
        public static partial void Queued(ILogger logger, string id, long queued);

        [LoggerMessage(EventId = 6202, Level = LogLevel.Information, Message = "replay {Id} resumed after a restart at {Queued} of {Matched}")]
        public static partial void Resumed(ILogger logger, string id, long queued, long matched);

        [LoggerMessage(EventId = 6203, Level = LogLevel.Information, Message = "replay {Id} cancelled after queuing {Queued}; {Withdrawn} not yet attempted went back to their previous state")]
        public static partial void Cancelled(ILogger logger, string id, long queued, long withdrawn);

        [LoggerMessage(EventId = 6204, Level = LogLevel.Error, Message = "replay {Id}: the delivery store failed ({Reason}); trying the batch again")]
        public static partial void StoreFailed(ILogger logger, string id, string reason);
    }
}
