namespace ZenMesh.XdsServer.Hosting;

/// <summary>Configuration section "Xds". Every default runs locally.</summary>
public sealed record XdsServerOptions
{
    public const string Section = "Xds";

    /// <summary>Address both ports bind to. Loopback by default: nothing is exposed until you say so.</summary>
    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>ADS and the per-type xDS services (gRPC, HTTP/2). 0 picks a free port.</summary>
    public int AdsPort { get; init; } = 18000;

    /// <summary>Admin and API (HTTP/1.1). 0 picks a free port.</summary>
    public int HttpPort { get; init; } = 8080;

    /// <summary>A JSON or YAML array of Envoy resources served to every node; watched for edits.</summary>
    public string? ResourcesFile { get; init; }

    /// <summary>Safety-net poll of the resources file, in case a file-system event is missed.</summary>
    public TimeSpan ResourcesPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>PEM certificate and key: when both are set, ADS is served over TLS.</summary>
    public string? TlsCertificateFile { get; init; }
    public string? TlsKeyFile { get; init; }

    /// <summary>Where desired state (SQLite) and the admin token live.</summary>
    public string DataDir { get; init; } = "./data";

    /// <summary>
    /// PostgreSQL instead of SQLite (--postgres), for several replicas sharing one desired state;
    /// e.g. "Host=db;Database=zenmesh;Username=zenmesh;Password=…".
    /// </summary>
    public string? PostgresConnectionString { get; init; }

    /// <summary>With PostgreSQL: how often a replica reloads everything even without a notification.</summary>
    public TimeSpan ReplicaPollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The admin token of tenant "default" (env ZENMESH_ADMIN_TOKEN); when empty, one is created on first start.</summary>
    public string? AdminToken { get; init; }

    public XdsLimits Limits { get; init; } = new();
}
