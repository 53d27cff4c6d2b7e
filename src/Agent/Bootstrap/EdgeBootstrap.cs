using System.Globalization;
using System.Text.RegularExpressions;

namespace ZenMesh.Agent.Bootstrap;

/// <summary>
/// Renders envoy-config/edge-bootstrap.yaml for one edge: its node id, where the agent's xDS relay
/// is (loopback by default), and where Envoy's admin listens (loopback by default). Every
/// placeholder must be filled; one left over is a template bug.
/// </summary>
public static partial class EdgeBootstrap
{
    public static string TemplatePath => Path.Combine(AppContext.BaseDirectory, "envoy-config", "edge-bootstrap.yaml");

    public static string Render(string template, string nodeId, int agentXdsPort, int adminPort, string agentXdsAddress = "127.0.0.1", string adminAddress = "127.0.0.1")
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // Quoted: a node id holds a '/', and YAML must read it as one string.
            ["NODE_ID"] = $"\"{nodeId}\"",
            ["AGENT_XDS_ADDRESS"] = agentXdsAddress,
            ["AGENT_XDS_PORT"] = agentXdsPort.ToString(CultureInfo.InvariantCulture),
            ["ADMIN_ADDRESS"] = adminAddress,
            ["ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
        };
        var rendered = Placeholder().Replace(template, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        if (Placeholder().Match(rendered) is { Success: true } left)
        {
            throw new InvalidOperationException($"The bootstrap template has a placeholder nothing fills: {left.Value}. Known: {string.Join(", ", values.Keys)}.");
        }
        return rendered;
    }

    [GeneratedRegex(@"\$\{([A-Z_]+)\}")]
    private static partial Regex Placeholder();
}
