using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Delivery;

/// <summary>
/// What follows an attempt, decided in one place: delivered ends it; a failure waits for the next
/// slot of the flow's schedule, or is dead once that slot falls past the horizon; Retry-After is
/// honoured up to a cap (and still bounded by the horizon); backpressure tries again shortly
/// without counting against the schedule; 410 leaves the job waiting while its flow is held.
/// </summary>
public static class AttemptPlanner
{
    /// <summary>How soon a delivery refused by Envoy's circuit breaker is tried again.</summary>
    public static readonly TimeSpan BackpressureDelay = TimeSpan.FromSeconds(1);

    public static AttemptResult Decide(Storage.Delivery delivery, AttemptReport report, RedeliverySchedule schedule, TimeSpan maxRetryAfter, double random)
    {
        var attempt = report.Attempt;
        // Delays count from the answer, as Retry-After does.
        var now = attempt.At + TimeSpan.FromMilliseconds(attempt.LatencyMs);
        var first = delivery.FirstAttemptAt ?? now;
        AttemptResult Then(DateTimeOffset? due, bool failure) =>
            due is { } at ? new(attempt, DeliveryStates.Pending, at, failure) : new(attempt, DeliveryStates.Dead, now, failure);
        return attempt.Outcome switch
        {
            AttemptOutcomes.Delivered => new(attempt, DeliveryStates.Delivered, now, false),
            AttemptOutcomes.Backpressure => new(attempt, DeliveryStates.Pending, now + BackpressureDelay, false),
            AttemptOutcomes.Gone => new(attempt, DeliveryStates.Pending, now, false),
            AttemptOutcomes.RetryAfter => Then(schedule.Later(now + Min(report.RetryAfter ?? TimeSpan.Zero, maxRetryAfter), first), true),
            _ => Then(schedule.Next(delivery.Failures + 1, first, now, random), true),
        };
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
