using ZenMesh.Hosting;

namespace ZenMesh.Agent.Hosting;

/// <summary>Where the agent actually listens, once started: its ports may have been 0 (the OS's choice) in its options.</summary>
public sealed class AgentEndpoints
{
    /// <summary>The local xDS relay (h2c, loopback only) that Envoy and the edge's services subscribe to.</summary>
    public BoundListener Xds { get; } = new("agent", "xds");

    /// <summary>Status, health and metrics over HTTP/1.1.</summary>
    public BoundListener Status { get; } = new("agent", "status");

    /// <summary>/healthz alone, for probes, when --health-port is given.</summary>
    public BoundListener Health { get; } = new("agent", "health");
}
