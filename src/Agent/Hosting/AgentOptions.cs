namespace ZenMesh.Agent.Hosting;

/// <summary>Configuration section "Agent". Every default runs locally against a control plane on this machine.</summary>
public sealed record AgentOptions
{
    public const string Section = "Agent";

    public const string LocalControlPlane = "http://127.0.0.1:18000";

    /// <summary>
    /// The control plane's xDS address (--control-plane); the one outbound connection the agent
    /// makes. Default: the one in the enrollment credential, else a control plane on this machine.
    /// </summary>
    public string? ControlPlane { get; init; }

    /// <summary>This edge, "{tenant}/{edge}" (--edge): the node id the agent presents upstream. Default: the enrolled edge.</summary>
    public string? Edge { get; init; }

    /// <summary>Credential and last-known-good generations (--state-dir).</summary>
    public string StateDir { get; init; } = "./agent-state";

    /// <summary>
    /// The bearer token of /status, /metrics and /admin/xds/* once the status port is bound beyond
    /// loopback; when unset, one is created on first start in {StateDir}/api-token (mode 0600).
    /// </summary>
    public string? ApiToken { get; init; }

    /// <summary>The local xDS relay for Envoy and the ZenMesh services, on loopback (--xds-port). 0 picks a free port.</summary>
    public int XdsPort { get; init; } = 18001;

    /// <summary>GET /status (staleness), /healthz and /metrics (--status-port). 0 picks a free port.</summary>
    public int StatusPort { get; init; } = 19000;

    /// <summary>The status port's address (--status-bind): loopback, or 0.0.0.0 where a kubelet probes it. The xDS relay stays on loopback.</summary>
    public string StatusBindAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// A listener of its own for /healthz alone (--health-port), on <see cref="HealthBindAddress"/>:
    /// a kubelet's probe reaches it while status, metrics and the admin views stay on loopback.
    /// Unset: /healthz is on the status listener.
    /// </summary>
    public int? HealthPort { get; init; }

    public string HealthBindAddress { get; init; } = "0.0.0.0";

    /// <summary>How many accepted generations are kept on disk; older ones are the fallback for a corrupt newest.</summary>
    public int Generations { get; init; } = 5;

    /// <summary>How long config may go unconfirmed by the control plane before status says it is stale (a warning, never an outage).</summary>
    public TimeSpan StalenessBound { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>First and largest delay between reconnects (exponential, jittered).</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the agent reports to the control plane at most apart (it also reports on every change).</summary>
    public TimeSpan ReportInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The directory of the edge's secrets, one file per secret name (env ZENMESH_SECRETS_DIR).</summary>
    public string? SecretsDir { get; init; }

    public string GenerationsDir => Path.Combine(StateDir, "generations");
}
