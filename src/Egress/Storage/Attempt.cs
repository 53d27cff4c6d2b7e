namespace ZenMesh.Egress.Storage;

/// <summary>
/// One attempt at a delivery, as the delivery log shows it: when, what the target (or Envoy) said,
/// how long it took, the start of the response body, and whose failure it was.
/// </summary>
/// <param name="Status">The HTTP status, or null when no response came (refused, reset, timed out, not sent).</param>
/// <param name="Outcome">One of <see cref="AttemptOutcomes"/>.</param>
/// <param name="Fault">"target" for the customer's endpoint, "zenmesh" for ZenMesh itself (Envoy missing, config or secret missing), null when nothing failed.</param>
/// <param name="Via">Who carried it: "envoy {address}" or "direct".</param>
public sealed record Attempt(
    string JobId,
    int Number,
    DateTimeOffset At,
    int? Status,
    double LatencyMs,
    string Outcome,
    string? Fault,
    string? Detail,
    string? Snippet,
    string Via);

public static class AttemptOutcomes
{
    public const string Delivered = "delivered";

    /// <summary>A failure that goes to redelivery on the flow's schedule.</summary>
    public const string Failed = "failed";

    /// <summary>429 or 503 with Retry-After: tried again when the target asked (capped).</summary>
    public const string RetryAfter = "retry_after";

    /// <summary>Envoy's circuit breaker for the target is open: tried again soon, at lower concurrency; not a failure of the target.</summary>
    public const string Backpressure = "backpressure";

    /// <summary>410 Gone: the target no longer wants the flow; the flow is held.</summary>
    public const string Gone = "gone";

    /// <summary>Never sent, because ZenMesh lacked something (the signing secret).</summary>
    public const string NotSent = "not_sent";
}

public static class Faults
{
    public const string Target = "target";
    public const string ZenMesh = "zenmesh";
}
