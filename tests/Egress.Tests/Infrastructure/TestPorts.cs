using System.Net;
using System.Net.Sockets;

namespace ZenMesh.Egress.Tests.Infrastructure;

internal static class TestPorts
{
    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
