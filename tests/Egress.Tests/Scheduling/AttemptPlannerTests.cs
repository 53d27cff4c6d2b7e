using Google.Protobuf.WellKnownTypes;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Delivery;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Tests.Scheduling;

/// <summary>The redelivery schedule and what each outcome leads to, on fixed times.</summary>
public sealed class AttemptPlannerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Cap = TimeSpan.FromHours(1);

    private static Storage.Delivery Pending(int failures, DateTimeOffset? first) => new(
        "ev_1/f", "ev_1", "default", "f", "orders", null, T0, new Dictionary<string, string>(), [], DeliveryStates.Pending,
        failures, failures, T0, first, T0, null, null, null, null);

    private static AttemptReport Report(DateTimeOffset at, string outcome, TimeSpan? retryAfter = null) =>
        new(new Attempt("ev_1/f", 1, at, 500, 0, outcome, Faults.Target, null, null, "direct"), retryAfter);

    [Fact]
    public void DefaultSchedule_Is5s30s2m10m1h4h_ThenEvery8h_ForThreeDays()
    {
        var schedule = RedeliverySchedule.Of(new FlowPolicy());
        Assert.Equal([5, 30, 120, 600, 3600, 14400, 28800, 28800], Enumerable.Range(1, 8).Select(n => schedule.DelayAfter(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromDays(3), schedule.Horizon);

        // Trying on the schedule (no jitter: random 0.5): 7 attempts by 5h12m35s, then one every 8 h
        // until 69h12m35s; the next would be past the 3 days.
        var at = T0;
        var attempts = 1;
        while (schedule.Next(attempts, T0, at, 0.5) is { } next)
        {
            at = next;
            attempts++;
        }
        Assert.Equal(15, attempts);
        Assert.Equal(T0 + new TimeSpan(2, 21, 12, 35), at);
        Assert.True(at <= T0 + TimeSpan.FromDays(3));
    }

    [Fact]
    public void Jitter_SpreadsADelayByAtMostTenPercent()
    {
        var schedule = RedeliverySchedule.Default;
        Assert.Equal(T0 + TimeSpan.FromSeconds(27), schedule.Next(2, T0, T0, 0));
        Assert.Equal(T0 + TimeSpan.FromSeconds(33), schedule.Next(2, T0, T0, 1));
    }

    [Fact]
    public void Failure_PastTheHorizon_IsDead_AndCountsOnTheSchedule()
    {
        var schedule = new RedeliverySchedule([TimeSpan.FromMinutes(10)], TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(15));
        var inside = AttemptPlanner.Decide(Pending(0, null), Report(T0, AttemptOutcomes.Failed), schedule, Cap, 0.5);
        Assert.Equal((DeliveryStates.Pending, T0.AddMinutes(10), true), (inside.State, inside.DueAt, inside.CountsAsFailure));

        var past = AttemptPlanner.Decide(Pending(1, T0), Report(T0.AddMinutes(10), AttemptOutcomes.Failed), schedule, Cap, 0.5);
        Assert.Equal(DeliveryStates.Dead, past.State);
    }

    [Fact]
    public void RetryAfter_IsHonouredUpToTheCap()
    {
        var schedule = RedeliverySchedule.Default;
        var asked = AttemptPlanner.Decide(Pending(0, null), Report(T0, AttemptOutcomes.RetryAfter, TimeSpan.FromSeconds(90)), schedule, Cap, 0.5);
        Assert.Equal(T0.AddSeconds(90), asked.DueAt);
        var capped = AttemptPlanner.Decide(Pending(0, null), Report(T0, AttemptOutcomes.RetryAfter, TimeSpan.FromDays(2)), schedule, Cap, 0.5);
        Assert.Equal(T0 + Cap, capped.DueAt);
    }

    [Fact]
    public void Backpressure_TriesAgainSoon_WithoutCountingAgainstTheSchedule()
    {
        var result = AttemptPlanner.Decide(Pending(3, T0), Report(T0.AddHours(1), AttemptOutcomes.Backpressure), RedeliverySchedule.Default, Cap, 0.5);
        Assert.Equal((DeliveryStates.Pending, T0.AddHours(1) + AttemptPlanner.BackpressureDelay, false), (result.State, result.DueAt, result.CountsAsFailure));
    }

    [Fact]
    public void FlowSchedule_FromConfig_ReplacesTheDefaults()
    {
        var policy = new FlowPolicy { RedeliveryRepeatEvery = Duration.FromTimeSpan(TimeSpan.FromHours(2)), RedeliveryHorizon = Duration.FromTimeSpan(TimeSpan.FromDays(1)) };
        policy.RedeliveryDelays.Add(Duration.FromTimeSpan(TimeSpan.FromSeconds(1)));
        var schedule = RedeliverySchedule.Of(policy);
        Assert.Equal((TimeSpan.FromSeconds(1), TimeSpan.FromHours(2), TimeSpan.FromDays(1)), (schedule.DelayAfter(1), schedule.DelayAfter(2), schedule.Horizon));
    }
}
