using ZenMesh.Hosting;

namespace ZenMesh.Egress.Hosting;

/// <summary>Where the egress actually listens, once started: its port may have been 0 (the OS's choice) in its options.</summary>
public sealed class EgressEndpoints
{
    /// <summary>The delivery log, replay, status and metrics over HTTP/1.1.</summary>
    public BoundListener Api { get; } = new("egress", "api");

    /// <summary>/healthz alone, for probes, when --health-port is given.</summary>
    public BoundListener Health { get; } = new("egress", "health");
}
