using System.Net;
using System.Net.Sockets;

namespace ZenMesh.Egress.Tests.Infrastructure;

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
}
