namespace ZenMesh.Egress.Hosting;

/// <summary>Configuration section "Egress". Every default runs locally beside an ingester and an agent.</summary>
public sealed record EgressOptions : ZenMesh.Hosting.IEdgeServiceOptions
{
    public const string Section = "Egress";

    /// <summary>The delivery log, replay and status API (--port).</summary>
    public int Port { get; init; } = 8082;

    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>A listener of its own for /healthz alone (--health-port), for probes from outside the pod while the API stays on loopback. Unset: /healthz is on the API port.</summary>
    public int? HealthPort { get; init; }

    public string HealthBindAddress { get; init; } = "0.0.0.0";

    /// <summary>Where flow config comes from over xDS (--xds): the edge agent's relay, or the control plane itself.</summary>
    public string Xds { get; init; } = "http://127.0.0.1:18001";

    /// <summary>The edge whose flows this egress delivers (--edge), "{tenant}/{edge}": its node id.</summary>
    public string Edge { get; init; } = "default/local";

    /// <summary>The ingester's job stream (--ingester); the egress connects out to it.</summary>
    public string Ingester { get; init; } = "http://127.0.0.1:8091";

    /// <summary>The file holding the ingester's stream secret (--ingester-secret-file), e.g. its {data-dir}/stream-secret; read at each subscription.</summary>
    public string? IngesterSecretFile { get; init; }

    /// <summary>An enrolled edge: the agent's credential directory (--ingester-credential); the job stream is then mutual TLS with the edge's certificate (the ingester's --stream-credential).</summary>
    public string? IngesterCredentialDir { get; init; }

    /// <summary>The ingester's stream secret itself, instead of <see cref="IngesterSecretFile"/> (e.g. from a Kubernetes Secret as Egress__IngesterSecret).</summary>
    public string? IngesterSecret { get; init; }

    /// <summary>The local Envoy's egress listener (--envoy); every attempt goes through it with x-zenmesh-flow.</summary>
    public string Envoy { get; init; } = "http://127.0.0.1:10001";

    /// <summary>Deliver straight to the targets without Envoy (--direct), with per-request retries and timeouts of our own.</summary>
    public bool Direct { get; init; }

    /// <summary>
    /// The bearer token of the delivery log, replays and resume (and of status and metrics beyond
    /// loopback); when unset, one is created on first start in {DataDir}/api-token (mode 0600).
    /// </summary>
    public string? ApiToken { get; init; }

    /// <summary>The delivery store (--data-dir).</summary>
    public string DataDir { get; init; } = "./egress-data";

    /// <summary>
    /// A PostgreSQL connection string (--postgres): deliveries kept there instead of the data directory, shared by every
    /// egress instance given the same database; each instance claims what it attempts.
    /// </summary>
    public string? Postgres { get; init; }

    /// <summary>Signing secrets, one file per name (env ZENMESH_SECRETS_DIR).</summary>
    public string? SecretsDir { get; init; }

    /// <summary>A target's Retry-After is honoured up to this long.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long the ingester waits for this egress to record a job before handing it out again.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How many jobs the ingester may send before this egress has recorded and acknowledged them.</summary>
    public int MaxUnacked { get; init; } = 500;

    /// <summary>How much of a target's response body each attempt keeps in the delivery log.</summary>
    public int SnippetBytes { get; init; } = 1024;
}
