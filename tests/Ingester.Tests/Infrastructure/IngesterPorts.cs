using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>
/// An ingester under test listens twice: webhooks on a port the OS picks, the egress stream on a
/// free port chosen here, so the two addresses can be told apart once it runs.
/// </summary>
internal sealed class IngesterPorts
{
    public int Stream { get; } = FreePort();

    public string[] Args => ["--port", "0", "--stream-port", Stream.ToString(CultureInfo.InvariantCulture)];

    public Uri StreamAddress => new($"http://127.0.0.1:{Stream}");

    public Uri Hooks(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single(a => !a.EndsWith($":{Stream}", StringComparison.Ordinal)));

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
