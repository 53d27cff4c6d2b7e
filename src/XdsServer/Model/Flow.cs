namespace ZenMesh.XdsServer.Model;

/// <summary>The declarative delivery contract from one endpoint to one target.</summary>
public sealed record Flow
{
    public string Endpoint { get; init; } = "";
    public string Target { get; init; } = "";

    /// <summary>Globs over the event type; "*" takes everything.</summary>
    public IReadOnlyList<string> EventTypes { get; init; } = ["*"];

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
    public RetryPolicy Retry { get; init; } = new();

    /// <summary>Envoy circuit breaker max_requests: concurrent deliveries to the target (backpressure).</summary>
    public int MaxInFlight { get; init; } = 100;

    /// <summary>Envoy circuit breaker max_pending_requests.</summary>
    public int MaxPending { get; init; } = 100;

    public RateLimit? RateLimit { get; init; }
    public OutlierDetection OutlierDetection { get; init; } = new();
    public Redelivery Redelivery { get; init; } = new();
    public Signing? Signing { get; init; }
    /// <summary>Opt-in strict order: "*" (the whole flow), a JSON pointer into the body ("/data/object/customer") or "header:Name".</summary>
    public string? OrderingKey { get; init; }
    public bool Enabled { get; init; } = true;
}

/// <summary>Envoy's per-request retries (the egress redelivers on its own, longer schedule).</summary>
public sealed record RetryPolicy
{
    public int Retries { get; init; } = 2;
    public TimeSpan? PerTryTimeout { get; init; }
    public IReadOnlyList<string> RetryOn { get; init; } = ["5xx", "reset", "connect-failure", "retriable-status-codes"];
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(5);

    public static readonly IReadOnlyList<string> Conditions = ["5xx", "gateway-error", "reset", "connect-failure", "envoy-ratelimited", "retriable-4xx", "refused-stream", "retriable-status-codes", "http3-post-connect-failure"];
}

/// <summary>Envoy outlier detection on the flow's target cluster.</summary>
public sealed record OutlierDetection
{
    public int Consecutive5xx { get; init; } = 5;
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan BaseEjectionTime { get; init; } = TimeSpan.FromSeconds(30);
    public int MaxEjectionPercent { get; init; } = 50;
}

/// <summary>The egress's long-horizon redelivery schedule.</summary>
public sealed record Redelivery
{
    public IReadOnlyList<TimeSpan> Delays { get; init; } =
        [TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromHours(1), TimeSpan.FromHours(4)];

    public TimeSpan RepeatEvery { get; init; } = TimeSpan.FromHours(8);
    public TimeSpan Horizon { get; init; } = TimeSpan.FromDays(3);
}

/// <summary>Outbound Standard Webhooks signing with a secret held at the edge.</summary>
public sealed record Signing
{
    public string SecretRef { get; init; } = "";
}
