using ZenMesh.Hosting;

namespace ZenMesh.Ingester.Hosting;

/// <summary>Where the ingester actually listens, once started: its two ports, which may have been 0 (the OS's choice) in its options.</summary>
public sealed class IngesterEndpoints
{
    /// <summary>Where webhooks go: POST {Hooks.Uri}hooks/{tenant}/{endpoint}.</summary>
    public BoundListener Hooks { get; } = new("ingester", "hooks");

    /// <summary>Where an egress opens its job stream (h2c).</summary>
    public BoundListener Stream { get; } = new("ingester", "stream");

    /// <summary>/healthz alone, for probes, when --health-port is given.</summary>
    public BoundListener Health { get; } = new("ingester", "health");
}
