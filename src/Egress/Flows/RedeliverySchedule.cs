using ZenMesh.Contracts.V1;

namespace ZenMesh.Egress.Flows;

/// <summary>
/// When a failed delivery is tried again: the flow's delays in turn (default 5 s, 30 s, 2 min,
/// 10 min, 1 h, 4 h), then every RepeatEvery (8 h) until the horizon (3 days after the first
/// attempt) has passed, when the job is dead-lettered. Each delay is spread by ±10% so that a burst
/// of failures does not come back as a burst.
/// </summary>
public sealed record RedeliverySchedule(IReadOnlyList<TimeSpan> Delays, TimeSpan RepeatEvery, TimeSpan Horizon)
{
    public const double Jitter = 0.1;

    public static readonly RedeliverySchedule Default = new(
        [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), TimeSpan.FromHours(4)],
        TimeSpan.FromHours(8),
        TimeSpan.FromDays(3));

    /// <summary>The flow's schedule; anything it leaves unset takes the default.</summary>
    public static RedeliverySchedule Of(FlowPolicy policy) => new(
        policy.RedeliveryDelays.Count > 0 ? [.. policy.RedeliveryDelays.Select(d => d.ToTimeSpan())] : Default.Delays,
        policy.RedeliveryRepeatEvery is { } repeat && repeat.ToTimeSpan() > TimeSpan.Zero ? repeat.ToTimeSpan() : Default.RepeatEvery,
        policy.RedeliveryHorizon is { } horizon && horizon.ToTimeSpan() > TimeSpan.Zero ? horizon.ToTimeSpan() : Default.Horizon);

    /// <summary>The delay after the <paramref name="failures"/>th failure (1 for the first), before jitter.</summary>
    public TimeSpan DelayAfter(int failures) => failures <= Delays.Count ? Delays[Math.Max(failures, 1) - 1] : RepeatEvery;

    /// <summary>
    /// When to try again after the <paramref name="failures"/>th failure, or null when that would
    /// fall past the horizon counted from <paramref name="firstAttempt"/>: the job is dead.
    /// </summary>
    public DateTimeOffset? Next(int failures, DateTimeOffset firstAttempt, DateTimeOffset now, double random)
    {
        var delay = DelayAfter(failures);
        var spread = delay * (1 + Jitter * ((2 * random) - 1));
        return Later(now + spread, firstAttempt);
    }

    /// <summary><paramref name="at"/>, or null when it falls past the horizon.</summary>
    public DateTimeOffset? Later(DateTimeOffset at, DateTimeOffset firstAttempt) => at <= firstAttempt + Horizon ? at : null;
}
