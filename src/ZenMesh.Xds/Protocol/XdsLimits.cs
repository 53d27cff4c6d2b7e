namespace ZenMesh.Xds.Protocol;

/// <summary>Bounds that keep a reconnect storm from starving the server.</summary>
public sealed record XdsLimits
{
    /// <summary>Streams beyond this are refused with RESOURCE_EXHAUSTED, and the client backs off.</summary>
    public int MaxStreams { get; init; } = 20_000;

    /// <summary>Responses being built and written at once, across all streams.</summary>
    public int MaxConcurrentPushes { get; init; } = Math.Max(4, Environment.ProcessorCount * 4);

    /// <summary>Requests queued per stream before the server stops reading from it.</summary>
    public int StreamQueueCapacity { get; init; } = 64;

    /// <summary>A stream whose first request has not arrived this long after it opened is closed (DEADLINE_EXCEEDED), and its slot freed.</summary>
    public TimeSpan FirstRequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest NACK error_detail kept (status, admin views, ledger, logs); the rest is cut and counted.</summary>
    public int MaxNackDetailChars { get; init; } = 4096;
}
