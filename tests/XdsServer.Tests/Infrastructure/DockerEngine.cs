using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>Whether a Docker engine answers (DOCKER_HOST, or the default unix socket), decided once per run.</summary>
internal static class DockerEngine
{
    /// <summary>Null when an engine answered /_ping; otherwise where we asked and what happened.</summary>
    public static readonly string? Unavailable = Probe();

    private static string? Probe()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST") is { Length: > 0 } configured ? configured : "unix:///var/run/docker.sock";
        if (host.StartsWith("unix://", StringComparison.Ordinal) && !File.Exists(host["unix://".Length..]))
        {
            return $"no Docker engine: {host["unix://".Length..]} does not exist (and DOCKER_HOST is not set)";
        }
        try
        {
            using var socket = host.StartsWith("unix://", StringComparison.Ordinal)
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
            EndPoint endpoint = host.StartsWith("unix://", StringComparison.Ordinal)
                ? new UnixDomainSocketEndPoint(host["unix://".Length..])
                : new DnsEndPoint(new Uri(host).Host, new Uri(host).Port);
            var connect = socket.ConnectAsync(endpoint);
            if (!connect.Wait(TimeSpan.FromSeconds(2)))
            {
                return $"no Docker engine answered at {host} within 2 s";
            }
            socket.Send(Encoding.ASCII.GetBytes("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"));
            socket.ReceiveTimeout = 2000;
            var buffer = new byte[512];
            var read = socket.Receive(buffer);
            var answer = Encoding.ASCII.GetString(buffer, 0, read);
            return answer.Contains(" 200 ", StringComparison.Ordinal) ? null : $"the Docker engine at {host} answered /_ping with '{answer.Split('\n')[0].Trim()}'";
        }
        catch (Exception e) when (e is SocketException or AggregateException or IOException or UriFormatException)
        {
            return $"no Docker engine answered at {host} ({(e is AggregateException a ? a.InnerException?.Message : e.Message)})";
        }
    }
}

/// <summary>A test that needs a Docker engine (real Envoy in a container); skipped with the reason where none answers.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DockerFactAttribute : FactAttribute
{
    public DockerFactAttribute()
    {
        if (DockerEngine.Unavailable is { } reason)
        {
            Skip = $"Needs a real Envoy, run by Testcontainers: {reason}. It runs unchanged wherever Docker does; here the same scenarios run against gRPC's own xDS client (tests/xds-harness) and in direct mode.";
        }
    }
}
