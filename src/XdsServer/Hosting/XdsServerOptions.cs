using ZenMesh.Xds.Protocol;

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

    /// <summary>
    /// Serve xDS over mutual TLS (--tls): the server's certificate is issued by the control plane's
    /// CA for <see cref="TlsServerNames"/>, and every xDS call must present an edge credential.
    /// Off by default, for local development on loopback.
    /// </summary>
    public bool Tls { get; init; }

    /// <summary>PEM certificate and key for the xDS port instead of one from the CA; setting them turns TLS on.</summary>
    public string? TlsCertificateFile { get; init; }
    public string? TlsKeyFile { get; init; }

    /// <summary>The CA that issued <see cref="TlsCertificateFile"/>, PEM, which bundles tell agents to trust; default: that file itself.</summary>
    public string? TlsServerCaFile { get; init; }

    /// <summary>The names (DNS or IP) the CA-issued server certificate is valid for: how agents address this server.</summary>
    public string[] TlsServerNames { get; init; } = ["localhost", "127.0.0.1"];

    /// <summary>Where the control plane's CA lives (ca.crt, ca.key); default {DataDir}/ca. Replicas share one.</summary>
    public string? CaDirectory { get; init; }

    /// <summary>How long an edge credential is valid; the agent renews it before then.</summary>
    public TimeSpan CredentialLifetime { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How long an enrollment bundle can be used, unless the request says otherwise (at most 24 h).</summary>
    public TimeSpan EnrollmentLifetime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>The xDS address enrollment bundles give agents, e.g. https://xds.example.com:18000; default: this server's.</summary>
    public string? PublicAdsAddress { get; init; }

    /// <summary>Allow cleartext xDS (which trusts any node id) on a non-loopback address. Only for a network you trust.</summary>
    public bool AllowInsecureRemote { get; init; }

    /// <summary>
    /// Serve the Flow API, admin views and metrics over TLS (--http-tls): with
    /// <see cref="HttpTlsCertificateFile"/> and <see cref="HttpTlsKeyFile"/>, or else a certificate
    /// issued by the control plane's CA for <see cref="TlsServerNames"/> (the CLI trusts it with --ca).
    /// </summary>
    public bool HttpTls { get; init; }

    /// <summary>PEM certificate and key for the HTTP port; setting them turns its TLS on.</summary>
    public string? HttpTlsCertificateFile { get; init; }
    public string? HttpTlsKeyFile { get; init; }

    /// <summary>Allow the HTTP port (bearer tokens in cleartext) on a non-loopback address without TLS. Only behind a proxy that terminates TLS.</summary>
    public bool AllowInsecureHttp { get; init; }

    /// <summary>True when the HTTP port is served over TLS.</summary>
    public bool HttpTlsEnabled => HttpTls || !string.IsNullOrEmpty(HttpTlsCertificateFile);

    /// <summary>True when xDS is served over TLS and edges must present credentials.</summary>
    public bool TlsEnabled => Tls || !string.IsNullOrEmpty(TlsCertificateFile);

    public string CaPath => CaDirectory is { Length: > 0 } dir ? dir : Path.Combine(DataDir, "ca");

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
