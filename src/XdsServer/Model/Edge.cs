namespace ZenMesh.XdsServer.Model;

/// <summary>A place where an agent and Envoy run. Its Envoy's node id is "{tenant}/{name}".</summary>
public sealed record Edge
{
    /// <summary>"vm" or "kubernetes".</summary>
    public string Mode { get; init; } = "vm";

    /// <summary>Where the edge's ingester listens, for the ingress listener's upstream.</summary>
    public string IngesterAddress { get; init; } = "127.0.0.1:8081";

    /// <summary>
    /// The address Envoy's egress listener (port 10001) binds. Loopback when the egress runs beside
    /// Envoy (a VM, a pod); "0.0.0.0" when it runs in another container and the network is private.
    /// </summary>
    public string EgressListenerAddress { get; init; } = "127.0.0.1";

    /// <summary>The CA bundle on the edge's Envoy that https targets without their own CA are verified against.</summary>
    public string TrustBundle { get; init; } = "/etc/ssl/certs/ca-certificates.crt";
}
