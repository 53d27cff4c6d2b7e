using System.Net;
using System.Net.Sockets;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// Ports in tests, one way: whatever runs in the test's process binds port 0 and says which port it
/// got (IngesterEndpoints, EgressEndpoints, RunningServer, RunningAgent.XdsUri), so no parallel test
/// can take a port between choosing and binding it. These two are for what cannot do that.
/// </summary>
internal static class TestPorts
{
    /// <summary>
    /// A loopback port that refuses connections for as long as the returned socket is held: bound and
    /// never listening, so no other test can take it meanwhile. A port that was only free when asked
    /// for was once taken by a parallel test's target, which then answered 200.
    /// </summary>
    public static (Socket Held, int Port) Refusing()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (socket, ((IPEndPoint)socket.LocalEndPoint!).Port);
    }

    /// <summary>
    /// A port free when asked, for a process that must be told its port before it starts and cannot
    /// report the one it bound (a PostgreSQL server, an Envoy container's bootstrap). Anything in the
    /// test's own process binds port 0 instead.
    /// </summary>
    public static int ForAnotherProcess()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
