using System.Collections.Concurrent;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Delivery;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Scheduling;

/// <summary>
/// One flow's deliveries: its own queue (the due rows of the store, refilled by this lane alone),
/// its own concurrency and its own pauses. A slow or failing target fills only its own lane, so
/// no flow waits behind another; the store's due times are the durable timers, so a restart
/// resumes every lane where it stood.
/// </summary>
public sealed partial class FlowLane : IAsyncDisposable
{
    /// <summary>How often an idle lane looks at the store anyway: the reconciler for due times nobody announced.</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(5);

    private readonly IDeliveryStore _store;
    private readonly Deliverer _deliverer;
    private readonly TimeProvider _time;
    private readonly TimeSpan _maxRetryAfter;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);
    private readonly Wakeup _wake = new();
    private readonly Random _random = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Action<FlowLane, AttemptResult> _finished;
    private Task _loop = Task.CompletedTask;
    private volatile FlowPolicy _policy;
    private long _pausedUntil;

    public FlowLane(FlowPolicy policy, IDeliveryStore store, Deliverer deliverer, TimeProvider time, TimeSpan maxRetryAfter, bool held, Action<FlowLane, AttemptResult> finished, ILogger logger)
    {
        _policy = policy;
        _store = store;
        _deliverer = deliverer;
        _time = time;
        _maxRetryAfter = maxRetryAfter;
        _finished = finished;
        _logger = logger;
        Held = held;
        HeldStoredAt = held ? DateTimeOffset.MinValue : null;
        Limit = new AdaptiveLimit(MaxInFlight(policy));
    }

    public string Tenant => _policy.Tenant;

    public string Flow => _policy.Flow;

    public FlowPolicy Policy => _policy;

    public AdaptiveLimit Limit { get; }

    /// <summary>
    /// While held, the deliveries waiting behind the hold when the lane last looked (it looks when
    /// woken, for example by a new job, and every <see cref="Recheck"/>); null when not held.
    /// </summary>
    public long? HeldBack { get; private set; }

    /// <summary>Held after a 410 Gone: nothing is attempted until resumed.</summary>
    public bool Held { get; private set; }

    /// <summary>By when this lane's hold was in the store: null while the lane is still storing its own.</summary>
    public DateTimeOffset? HeldStoredAt { get; private set; }

    public int InFlight => _inFlight.Count;

    /// <summary>Until when the target asked not to be called (Retry-After), if it did.</summary>
    public DateTimeOffset? PausedUntil => Interlocked.Read(ref _pausedUntil) is var ms && ms > _time.GetUtcNow().ToUnixTimeMilliseconds() ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    private static int MaxInFlight(FlowPolicy policy) => policy.MaxInFlight > 0 ? (int)policy.MaxInFlight : 100;

    /// <summary>
    /// How long a delivery taken for an attempt stays claimed in a shared store: an attempt ends within the flow's timeout,
    /// and the minute on top covers signing, the store and a slow clock. Only a dead instance's claims ever lapse.
    /// </summary>
    public static TimeSpan ClaimFor(FlowPolicy policy) => Deliverer.TimeoutOf(policy) + TimeSpan.FromMinutes(1);

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    public void Update(FlowPolicy policy)
    {
        _policy = policy;
        Limit.SetMax(MaxInFlight(policy));
        _wake.Set();
    }

    public void Wake() => _wake.Set();

    /// <summary>Held because the store said so when read at <paramref name="asOf"/> (another instance sharing it saw the 410).</summary>
    public void Hold(DateTimeOffset asOf)
    {
        Held = true;
        HeldStoredAt = asOf;
    }

    public void Resume()
    {
        Held = false;
        HeldStoredAt = null;
        HeldBack = null;
        Interlocked.Exchange(ref _pausedUntil, 0);
        _wake.Set();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var now = _time.GetUtcNow();
                if (Held)
                {
                    // Counted by the lane itself each time it looks and stays held: what the hold keeps back.
                    HeldBack = (await _store.PendingAsync(stop).ConfigureAwait(false)).GetValueOrDefault($"{Tenant}/{Flow}");
                    await _wake.WaitAsync(Recheck, _time, stop).ConfigureAwait(false);
                    continue;
                }
                if (PausedUntil is { } paused)
                {
                    await _wake.WaitAsync(paused - _time.GetUtcNow(), _time, stop).ConfigureAwait(false);
                    continue;
                }
                await Limit.WaitAsync(stop).ConfigureAwait(false);
                var room = Math.Max(1, Limit.Current - _inFlight.Count);
                var due = await _store.DueAsync(Tenant, Flow, now, room, _inFlight.Keys.ToHashSet(StringComparer.Ordinal), ClaimFor(_policy), stop).ConfigureAwait(false);
                if (due.Count == 0)
                {
                    Limit.Release();
                    var next = await _store.NextDueAsync(Tenant, Flow, stop).ConfigureAwait(false);
                    // From the clock as it is now, not as it was before the queries: a timer set for
                    // "due minus a stale now" fires late by however far the clock moved meanwhile.
                    var wait = next is { } at && at - _time.GetUtcNow() is var left && left < Recheck ? left : Recheck;
                    await _wake.WaitAsync(wait, _time, stop).ConfigureAwait(false);
                    continue;
                }
                var haveSlot = true;
                var started = 0;
                foreach (var delivery in due)
                {
                    if (Held || PausedUntil is not null)
                    {
                        break;
                    }
                    if (!haveSlot)
                    {
                        await Limit.WaitAsync(stop).ConfigureAwait(false);
                    }
                    haveSlot = false;
                    _inFlight[delivery.JobId] = AttemptAsync(delivery, stop);
                    started++;
                }
                if (haveSlot)
                {
                    Limit.Release();
                }
                if (started < due.Count)
                {
                    await _store.ReleaseAsync([.. due.Skip(started).Select(d => d.JobId)], stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is System.Data.Common.DbException or IOException)
            {
                Log.StoreFailed(_logger, Tenant, Flow, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), _time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>One attempt, holding one slot of the limit; its outcome is stored before the slot is given back.</summary>
    private async Task AttemptAsync(Storage.Delivery delivery, CancellationToken stop)
    {
        await Task.Yield();
        // Every line logged for this attempt (its outcome, a dead letter, a store failure) names the event and flow.
        using var scope = _logger.BeginScope(new Delivery.DeliveryLogScope(delivery.EventId, delivery.Flow, delivery.Tenant));
        try
        {
            var policy = _policy;
            var report = await _deliverer.AttemptAsync(delivery, policy, stop).ConfigureAwait(false);
            var result = AttemptPlanner.Decide(delivery, report, RedeliverySchedule.Of(policy), _maxRetryAfter, _random.NextDouble());
            await _store.FinishAttemptAsync(result, stop).ConfigureAwait(false);
            switch (report.Attempt.Outcome)
            {
                case AttemptOutcomes.Delivered:
                    Limit.Succeeded();
                    break;
                case AttemptOutcomes.Backpressure:
                    Limit.Backoff();
                    break;
                case AttemptOutcomes.RetryAfter when result.State == DeliveryStates.Pending:
                    Interlocked.Exchange(ref _pausedUntil, result.DueAt.ToUnixTimeMilliseconds());
                    break;
                case AttemptOutcomes.Gone:
                    Held = true;
                    await _store.HoldAsync(new DeliveryHold(Tenant, Flow, report.Attempt.Detail ?? "410 Gone", report.Attempt.At), stop).ConfigureAwait(false);
                    HeldStoredAt = _time.GetUtcNow();
                    break;
            }
            _finished(this, result);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutting down mid-attempt: the delivery stays due and is attempted again (here after the restart, or by
            // another instance sharing the store), with the same webhook-id.
            await ReleaseQuietlyAsync(delivery.JobId).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException)
        {
            Log.StoreFailed(_logger, Tenant, Flow, e.Message);
        }
        finally
        {
            _inFlight.TryRemove(delivery.JobId, out _);
            Limit.Release();
            _wake.Set();
        }
    }

    private async Task ReleaseQuietlyAsync(string jobId)
    {
        try
        {
            using var quick = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _store.ReleaseAsync([jobId], quick.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.Data.Common.DbException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The claim lapses on its own.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await Task.WhenAll(_inFlight.Values).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6100, Level = LogLevel.Error, Message = "flow {Tenant}/{Flow}: the delivery store failed ({Reason}); the delivery stays due and is tried again")]
        public static partial void StoreFailed(ILogger logger, string tenant, string flow, string reason);
    }
}
