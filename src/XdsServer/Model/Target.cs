namespace ZenMesh.XdsServer.Model;

/// <summary>A destination service reachable from an edge.</summary>
public sealed record Target
{
    public string Edge { get; init; } = "";
    public string Url { get; init; } = "";

    /// <summary>The target runs on the edge's own host (loopback): refused unless said, so no token can point an edge at its own services by mistake or on purpose.</summary>
    public bool AllowLoopback { get; init; }
    public TargetTls? Tls { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public HealthCheck? HealthCheck { get; init; }
}

/// <summary>TLS to a target; certificates and keys are secrets held at the edge, named here.</summary>
public sealed record TargetTls
{
    public string? CaSecretRef { get; init; }
    public string? Sni { get; init; }
    public string? ClientCertificateSecretRef { get; init; }

    /// <summary>Deliver without verifying the target's certificate: anyone on the path can read and change deliveries. Reported in status, logged on every publish.</summary>
    public bool InsecureSkipVerify { get; init; }
}

/// <summary>Active HTTP health checking of a target.</summary>
public sealed record HealthCheck
{
    public string Path { get; init; } = "/healthz";
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    public int UnhealthyThreshold { get; init; } = 3;
    public int HealthyThreshold { get; init; } = 2;
}
