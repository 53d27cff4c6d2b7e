namespace ZenMesh.Ingester.Hosting;

/// <summary>Configuration section "Ingester". Every default runs locally.</summary>
public sealed record IngesterOptions : ZenMesh.Hosting.IEdgeServiceOptions
{
    public const string Section = "Ingester";

    /// <summary>Webhooks arrive here (--port); loopback unless --bind says otherwise (Envoy's ingress routes to it).</summary>
    public int Port { get; init; } = 8081;

    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>A listener of its own for /healthz alone (--health-port), for probes from outside the pod while the webhook port stays on loopback beside Envoy. Unset: /healthz is on the webhook port.</summary>
    public int? HealthPort { get; init; }

    public string HealthBindAddress { get; init; } = "0.0.0.0";

    /// <summary>Where endpoint config comes from over xDS (--xds): the edge agent's relay, or the control plane itself.</summary>
    public string Xds { get; init; } = "http://127.0.0.1:18001";

    /// <summary>The edge whose endpoints this ingester serves (--edge), "{tenant}/{edge}": its node id.</summary>
    public string Edge { get; init; } = "default/local";

    /// <summary>A PostgreSQL connection string (--postgres): events, dedup keys and leases shared by several ingesters. Unset: the embedded store in DataDir.</summary>
    public string? Postgres { get; init; }

    /// <summary>
    /// The embedded store (--store): "sqlite", the only one (events.db in DataDir); accepted so that
    /// scripts which named it keep working. Ignored with --postgres.
    /// </summary>
    public string? Store { get; init; }

    /// <summary>The embedded event store (--data-dir).</summary>
    public string DataDir { get; init; } = "./ingester-data";

    /// <summary>One file per secret name, several active secrets one per line (env ZENMESH_SECRETS_DIR).</summary>
    public string? SecretsDir { get; init; }

    /// <summary>Above this many events waiting for their commit, new webhooks get 503 with Retry-After instead of a promise the store cannot keep.</summary>
    public int MaxPending { get; init; } = 10_000;

    /// <summary>How long a provider's event id is remembered to answer a redelivery as a duplicate (whole UTC days: up to a day longer).</summary>
    public TimeSpan DedupWindow { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How long payloads are kept; a day's partition is dropped whole once all of it is older than this.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How often retention runs.</summary>
    public TimeSpan RetentionInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The egress takes delivery jobs here over gRPC (zenmesh.v1.Events/Subscribe), on its own HTTP/2 port (--stream-port).</summary>
    public int StreamPort { get; init; } = 8091;

    /// <summary>
    /// Where the job stream listens (--stream-bind): loopback unless said otherwise, whatever
    /// <see cref="BindAddress"/> says for webhooks, since every job carries a webhook's body.
    /// </summary>
    public string StreamBindAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// The secret a subscriber presents ("authorization: Bearer ..."); when unset, one is created on
    /// first start in {DataDir}/stream-secret (mode 0600), which the egress is given (--ingester-secret-file).
    /// </summary>
    public string? StreamSecret { get; init; }

    /// <summary>
    /// An enrolled edge: the agent's credential directory (--stream-credential, e.g.
    /// agent-state/credential). The job stream is then mutual TLS with the edge's certificate, and
    /// only a subscriber holding this edge's certificate (its egress) is admitted, instead of the secret.
    /// </summary>
    public string? StreamCredentialDir { get; init; }

    /// <summary>The bearer token of /status and /metrics once the webhook port is bound beyond loopback; when unset, {DataDir}/api-token.</summary>
    public string? ApiToken { get; init; }

    /// <summary>While the store cannot write (a full disk), how often it tries a write of its own to learn that it can again.</summary>
    public TimeSpan StoreProbeInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The most dedup keys one write of the key file (dedup.db) takes. The key file has a writer of
    /// its own, which writes whatever keys came in while it wrote the last ones: under load its
    /// writes grow to this size, and larger writes cost less per key (each rewrites pages all over a
    /// day's table). Until written, a key waits in memory (its event's row holds it durably).
    /// </summary>
    public int DedupWriteBatch { get; init; } = 65_536;

    /// <summary>
    /// Tests only, never configuration (internal, so no setting binds it): the store commits
    /// without syncing, so the power-loss tests can show that they catch a store that does not sync.
    /// </summary>
    internal bool SkipSyncForTests { get; init; }

    /// <summary>The most events committed in one transaction (group commit).</summary>
    public int MaxBatch { get; init; } = 512;
}
