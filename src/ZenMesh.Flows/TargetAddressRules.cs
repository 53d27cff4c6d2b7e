using System.Net;
using System.Net.Sockets;

namespace ZenMesh.Flows;

/// <summary>
/// Where a target may not be, so that an API token cannot turn an edge into a proxy into its own
/// network: never a link-local or cloud-metadata address (the instance's credentials live there),
/// never the unspecified address, never a port of ZenMesh's own services or Envoy's admin on the
/// edge's host, and loopback only when the target says allowLoopback. Checked by the control plane
/// on the URL as written, and by the egress again on every address a name resolves to.
/// </summary>
public static class TargetAddressRules
{
    /// <summary>The default ports of the control plane, agent, ingester, egress and Envoy (listeners and admin).</summary>
    public static readonly IReadOnlySet<int> ZenMeshPorts = new HashSet<int> { 8080, 8081, 8082, 8091, 9901, 10000, 10001, 18000, 18001, 19000 };

    /// <summary>Names that resolve to cloud metadata services from inside the instance.</summary>
    private static readonly string[] MetadataHosts = ["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal", "metadata.azure.internal"];

    /// <summary>Metadata endpoints outside 169.254.0.0/16 (AWS over IPv6, Alibaba, Azure's wire server).</summary>
    private static readonly IPAddress[] MetadataAddresses = [IPAddress.Parse("fd00:ec2::254"), IPAddress.Parse("100.100.100.200"), IPAddress.Parse("168.63.129.16")];

    /// <summary>What is wrong with <paramref name="url"/> as written, or null. Names are judged by name here; the egress judges what they resolve to.</summary>
    public static string? Check(Uri url, bool allowLoopback)
    {
        var host = url.IdnHost.Trim('[', ']').TrimEnd('.').ToLowerInvariant();
        if (MetadataHosts.Contains(host))
        {
            return Forbidden;
        }
        var loopbackName = host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal);
        if (IPAddress.TryParse(host, out var address))
        {
            return Check(address, url.Port, allowLoopback);
        }
        return loopbackName ? LoopbackProblem(url.Port, allowLoopback) : null;
    }

    /// <summary>What is wrong with connecting to <paramref name="address"/>:<paramref name="port"/>, or null.</summary>
    public static string? Check(IPAddress address, int port, bool allowLoopback)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IsLinkLocal(address) || MetadataAddresses.Contains(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || IsMulticast(address))
        {
            return Forbidden;
        }
        return IPAddress.IsLoopback(address) ? LoopbackProblem(port, allowLoopback) : null;
    }

    public const string Forbidden = "a link-local or cloud-metadata address (169.254.0.0/16, fe80::/10, the metadata services), or an unspecified or multicast one: no target may be there.";

    public const string OwnPort = "a port of ZenMesh's own services or Envoy's admin on the edge's host";

    private static string? LoopbackProblem(int port, bool allowLoopback) =>
        ZenMeshPorts.Contains(port) ? $"{OwnPort} ({port}): no target may be there."
        : allowLoopback ? null
        : "loopback";

    private static bool IsLinkLocal(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork
        ? address.GetAddressBytes() is [169, 254, ..]
        : address.IsIPv6LinkLocal;

    private static bool IsMulticast(IPAddress address) => address.AddressFamily == AddressFamily.InterNetwork
        ? address.GetAddressBytes()[0] >= 224
        : address.IsIPv6Multicast;
}
