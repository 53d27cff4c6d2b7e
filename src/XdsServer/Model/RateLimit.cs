namespace ZenMesh.XdsServer.Model;

/// <summary>A token bucket: sustained requests per second, and how many may come at once.</summary>
public sealed record RateLimit
{
    public int RequestsPerSecond { get; init; }

    /// <summary>Default: one second's worth.</summary>
    public int? Burst { get; init; }
}
