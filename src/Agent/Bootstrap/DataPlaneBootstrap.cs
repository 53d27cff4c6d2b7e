using System.Globalization;
using System.Net;

namespace ZenMesh.Agent.Bootstrap;

/// <summary>
/// Renders envoy-config/data-plane-bootstrap.yaml: an Envoy taking xDS straight from the control
/// plane over mutual TLS, presenting the edge's enrolled credential from <c>credentialDirectory</c>.
/// </summary>
public static class DataPlaneBootstrap
{
    public static string TemplatePath => BootstrapTemplate.TemplatePath("data-plane-bootstrap.yaml");

    public static string Render(string template, string nodeId, Uri controlPlane, string credentialDirectory, int adminPort, string adminAddress = "127.0.0.1")
    {
        var host = controlPlane.IdnHost.Trim('[', ']');
        return BootstrapTemplate.Fill(template, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["NODE_ID"] = BootstrapTemplate.NodeId(nodeId),
            ["CONTROL_PLANE_ADDRESS"] = host,
            ["CONTROL_PLANE_PORT"] = controlPlane.Port.ToString(CultureInfo.InvariantCulture),
            // The server certificate names an IP literal as an IP SAN, a host name as a DNS SAN.
            ["CONTROL_PLANE_SAN_TYPE"] = IPAddress.TryParse(host, out _) ? "IP_ADDRESS" : "DNS",
            ["CREDENTIAL_DIR"] = CredentialDirectory(credentialDirectory),
            ["ADMIN_ADDRESS"] = adminAddress,
            ["ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
        });
    }

    private static string CredentialDirectory(string path)
    {
        var full = Path.GetFullPath(path);
        // It goes inside a double-quoted YAML string.
        if (full.Contains('"', StringComparison.Ordinal) || full.Contains('\\', StringComparison.Ordinal))
        {
            throw new ArgumentException($"The credential directory {full} holds a quote or a backslash, which the bootstrap cannot carry; use a plain path.", nameof(path));
        }
        return full;
    }
}
