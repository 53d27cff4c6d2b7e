using System.Globalization;

namespace ZenMesh.Agent.Bootstrap;

/// <summary>
/// Renders envoy-config/edge-bootstrap.yaml for one edge: its node id, where the agent's xDS relay
/// is (loopback by default), and where Envoy's admin listens (loopback by default).
/// </summary>
public static class EdgeBootstrap
{
    public static string TemplatePath => BootstrapTemplate.TemplatePath("edge-bootstrap.yaml");

    public static string Render(string template, string nodeId, int agentXdsPort, int adminPort, string agentXdsAddress = "127.0.0.1", string adminAddress = "127.0.0.1") =>
        BootstrapTemplate.Fill(template, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["NODE_ID"] = BootstrapTemplate.NodeId(nodeId),
            ["AGENT_XDS_ADDRESS"] = agentXdsAddress,
            ["AGENT_XDS_PORT"] = agentXdsPort.ToString(CultureInfo.InvariantCulture),
            ["ADMIN_ADDRESS"] = adminAddress,
            ["ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
        });
}
