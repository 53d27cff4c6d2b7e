using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ZenMesh.Ingester.Hosting;

/// <summary>
/// Where the ingester actually listens: a configured port 0 becomes a real one once started, so a
/// caller that lets the OS choose (tests, several ingesters on one host) learns both ports here
/// instead of reserving one in advance and hoping nothing takes it first.
/// </summary>
public sealed class IngesterEndpoints
{
    internal ListenOptions? Hooks { get; set; }
    internal ListenOptions? Stream { get; set; }

    public IPEndPoint HooksEndPoint => Bound(Hooks);
    public IPEndPoint StreamEndPoint => Bound(Stream);

    /// <summary>Where webhooks go: POST {HooksUri}hooks/{tenant}/{endpoint}.</summary>
    public Uri HooksUri => new($"http://{HooksEndPoint}");

    /// <summary>Where an egress opens its job stream (h2c).</summary>
    public Uri StreamUri => new($"http://{StreamEndPoint}");

    // Port 0 until Kestrel has bound it: a caller must not mistake that for an address.
    private static IPEndPoint Bound(ListenOptions? listen) =>
        listen?.IPEndPoint is { Port: > 0 } bound ? bound : throw new InvalidOperationException("The ingester has not started.");
}
