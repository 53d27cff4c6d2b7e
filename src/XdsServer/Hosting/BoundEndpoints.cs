using ZenMesh.Hosting;

namespace ZenMesh.XdsServer.Hosting;

/// <summary>Where the control plane actually listens, once started: its ports may have been 0 (the OS's choice) in its options.</summary>
public sealed class BoundEndpoints
{
    /// <summary>ADS and enrollment (gRPC over HTTP/2; https when TLS is on).</summary>
    public BoundListener Ads { get; } = new("server", "xds");

    /// <summary>The Flow API, admin pages and metrics over HTTP/1.1.</summary>
    public BoundListener Http { get; } = new("server", "http");
}
