namespace ZenMesh.LocalStack;

/// <summary>
/// Where the local stack keeps its state and where each part listens. The defaults are the ports
/// each service uses on its own, so the README's per-service commands and curls apply unchanged;
/// a port of 0 takes a free one (the tests do).
/// </summary>
public sealed record LocalMeshOptions
{
    /// <summary>Everything the stack writes: control-plane state, agent state, stores, demo secrets (--data-dir).</summary>
    public string DataDir { get; init; } = "./zenmesh-local";

    public int AdsPort { get; init; } = 18000;
    public int ApiPort { get; init; } = 8080;
    public int AgentXdsPort { get; init; } = 18001;
    public int AgentStatusPort { get; init; } = 19000;
    public int HookPort { get; init; } = 8081;
    public int StreamPort { get; init; } = 8091;
    public int EgressPort { get; init; } = 8082;
    public int EchoPort { get; init; } = 9100;

    /// <summary>The Envoy binary (--envoy); null looks for "envoy" on PATH, "" runs without Envoy (--no-envoy).</summary>
    public string? Envoy { get; init; }

    /// <summary>
    /// An Envoy the stack does not run (one in a container): its egress listener, which the egress
    /// delivers through. Null: the stack's own Envoy (see <see cref="Envoy"/>), or direct delivery.
    /// </summary>
    public Uri? ExternalEnvoyEgress { get; init; }

    /// <summary>
    /// The name by which the edge's Envoy reaches this machine's ingester and echo receiver
    /// (host.docker.internal for an Envoy in a container); it then binds its egress listener on all
    /// interfaces. Null: Envoy runs on this machine and everything is on 127.0.0.1.
    /// </summary>
    public string? EnvoyHostAlias { get; init; }

    /// <summary>How long the stack may take to come up (config pushed through the agent to ingester and egress).</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public string ControlPlaneDir => Path.Combine(DataDir, "control-plane");
    public string AgentStateDir => Path.Combine(DataDir, "agent-state");
    public string IngesterDir => Path.Combine(DataDir, "ingester");
    public string EgressDir => Path.Combine(DataDir, "egress");
    public string SecretsDir => Path.Combine(DataDir, "secrets");
    public string EnvoyDir => Path.Combine(DataDir, "envoy");
}
