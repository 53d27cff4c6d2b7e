using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ZenMesh.Hosting;

/// <summary>
/// Where one of a service's Kestrel listeners actually listens. A configured port 0 becomes a real
/// port only once Kestrel has bound it, so a caller that lets the OS choose (tests, several services
/// on one host) learns the port here instead of reserving one in advance and hoping nothing takes it
/// first. Asked before then, it throws: port 0 is not an address anyone can reach.
/// </summary>
/// <param name="service">The service's name as its "has not started" error says it, e.g. "ingester".</param>
/// <param name="name">The listener's name among the service's, e.g. "http" or "xds": what routes declare they are served on.</param>
public sealed class BoundListener(string service, string name)
{
    public string Name { get; } = name;

    private ListenOptions? _listen;

    /// <summary>
    /// Called from the listener's own callback in <c>ConfigureKestrel</c>:
    /// <c>kestrel.Listen(address, port, l => bound.Capture(l))</c>, with <paramref name="tls"/> true
    /// when that callback also calls <c>UseHttps</c> (Kestrel does not say so publicly).
    /// </summary>
    public void Capture(ListenOptions listen, bool tls = false)
    {
        _listen = listen;
        UsesTls = tls;
    }

    public bool UsesTls { get; private set; }

    public IPEndPoint EndPoint =>
        _listen?.IPEndPoint is { Port: > 0 } bound ? bound : throw new InvalidOperationException($"The {service} has not started.");

    /// <summary>The listener's base address, http or https as it serves, e.g. http://127.0.0.1:8081/.</summary>
    public Uri Uri => new($"{(UsesTls ? "https" : "http")}://{EndPoint}");
}
