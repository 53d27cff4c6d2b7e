using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Delivery;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Scheduling;

/// <summary>
/// Keeps one <see cref="FlowLane"/> per configured flow: added, updated and stopped as flow config
/// changes; holds (410) restored from the store at start and followed while running, so a hold or
/// resume made by another egress instance sharing the store reaches this one's lanes within
/// <see cref="FlowLane.Recheck"/>. Jobs of a flow without config wait in the store, counted in
/// /status, until their flow arrives.
/// </summary>
public sealed partial class DeliveryScheduler(
    FlowPolicies policies,
    IDeliveryStore store,
    Deliverer deliverer,
    DeliveryCounters counters,
    IOptions<EgressOptions> options,
    TimeProvider time,
    ILogger<DeliveryScheduler> logger) : BackgroundService
{
    private readonly Dictionary<string, FlowLane> _lanes = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private HashSet<string> _held = new(StringComparer.Ordinal);

    public IReadOnlyList<FlowLane> Lanes
    {
        get { lock (_lock) { return [.. _lanes.Values]; } }
    }

    public void Wake(string tenant, string flow)
    {
        lock (_lock)
        {
            _lanes.GetValueOrDefault(FlowPolicies.Key(tenant, flow))?.Wake();
        }
    }

    /// <summary>Ends a hold (after the target that answered 410 wants the flow again); false when the flow was not held.</summary>
    public async Task<bool> ResumeAsync(string tenant, string flow, CancellationToken cancellationToken)
    {
        var resumed = await store.ResumeAsync(tenant, flow, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _held.Remove(FlowPolicies.Key(tenant, flow));
            _lanes.GetValueOrDefault(FlowPolicies.Key(tenant, flow))?.Resume();
        }
        return resumed;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _held = [.. (await store.HoldsAsync(stoppingToken).ConfigureAwait(false)).Select(h => FlowPolicies.Key(h.Tenant, h.Flow))];
        policies.Changed += Apply;
        Apply(policies.All);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(FlowLane.Recheck, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (!stoppingToken.IsCancellationRequested)
                {
                    await FollowHoldsAsync(stoppingToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            policies.Changed -= Apply;
            List<FlowLane> lanes;
            lock (_lock)
            {
                lanes = [.. _lanes.Values];
                _lanes.Clear();
            }
            foreach (var lane in lanes)
            {
                await lane.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Makes the lanes' holds what the store says, except a hold this instance has not finished storing yet.</summary>
    private async Task FollowHoldsAsync(CancellationToken cancellationToken)
    {
        var asOf = time.GetUtcNow();
        HashSet<string> held;
        try
        {
            held = [.. (await store.HoldsAsync(cancellationToken).ConfigureAwait(false)).Select(h => FlowPolicies.Key(h.Tenant, h.Flow))];
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException)
        {
            Log.HoldsUnread(logger, e.Message);
            return;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        lock (_lock)
        {
            _held = held;
            foreach (var (key, lane) in _lanes)
            {
                if (held.Contains(key) && !lane.Held)
                {
                    lane.Hold(asOf);
                    Log.FlowHeldElsewhere(logger, lane.Tenant, lane.Flow);
                }
                else if (!held.Contains(key) && lane.Held && lane.HeldStoredAt is { } stored && stored < asOf)
                {
                    // Stored before the store was read and missing from it: resumed through another instance.
                    lane.Resume();
                }
            }
        }
    }

    private void Apply(IReadOnlyDictionary<string, FlowPolicy> flows)
    {
        var stopped = new List<FlowLane>();
        lock (_lock)
        {
            foreach (var (key, policy) in flows)
            {
                if (!policy.Enabled)
                {
                    continue;
                }
                if (_lanes.TryGetValue(key, out var lane))
                {
                    lane.Update(policy);
                    continue;
                }
                lane = new FlowLane(policy, store, deliverer, time, options.Value.MaxRetryAfter, _held.Contains(key), Finished, logger);
                _lanes[key] = lane;
                lane.Start();
            }
            foreach (var key in _lanes.Keys.Where(k => !flows.TryGetValue(k, out var p) || !p.Enabled).ToList())
            {
                stopped.Add(_lanes[key]);
                _lanes.Remove(key);
            }
        }
        foreach (var lane in stopped)
        {
            Log.FlowStopped(logger, lane.Tenant, lane.Flow);
            _ = lane.DisposeAsync().AsTask();
        }
    }

    private void Finished(FlowLane lane, AttemptResult result)
    {
        var attempt = result.Attempt;
        counters.Count(FlowPolicies.Key(lane.Tenant, lane.Flow), attempt.Outcome, attempt.LatencyMs, result.State == DeliveryStates.Dead, attempt.Fault);
        if (result.State == DeliveryStates.Dead)
        {
            Log.DeadLettered(logger, attempt.JobId, lane.Tenant, lane.Flow, attempt.Number, attempt.Detail ?? attempt.Outcome);
        }
        else if (attempt.Outcome == AttemptOutcomes.Gone)
        {
            lock (_lock)
            {
                _held.Add(FlowPolicies.Key(lane.Tenant, lane.Flow));
            }
            Log.FlowHeld(logger, lane.Tenant, lane.Flow, lane.Policy.TargetUrl);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6000, Level = LogLevel.Warning, Message = "{JobId} of flow {Tenant}/{Flow} is dead after {Attempts} attempts: {Detail}; replay it from the dead letters once the target is fixed")]
        public static partial void DeadLettered(ILogger logger, string jobId, string tenant, string flow, int attempts, string detail);

        [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "flow {Tenant}/{Flow} is held: its target {Target} answered 410 Gone; its jobs wait until the flow is resumed (POST /flows/<tenant>/<flow>/resume)")]
        public static partial void FlowHeld(ILogger logger, string tenant, string flow, string target);

        [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "flow {Tenant}/{Flow} is held: another egress instance sharing the store saw its target answer 410 Gone")]
        public static partial void FlowHeldElsewhere(ILogger logger, string tenant, string flow);

        [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "could not read the flows' holds from the delivery store ({Reason}); tried again in 5 s")]
        public static partial void HoldsUnread(ILogger logger, string reason);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "flow {Tenant}/{Flow} is no longer in this edge's config (or disabled); its jobs wait in the store")]
        public static partial void FlowStopped(ILogger logger, string tenant, string flow);
    }
}
