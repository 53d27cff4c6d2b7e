using System.Text.RegularExpressions;

namespace ZenMesh.Agent.Bootstrap;

/// <summary>Fills a bootstrap template's ${NAME} placeholders. Every one must be filled; one left over is a template bug.</summary>
internal static partial class BootstrapTemplate
{
    public static string TemplatePath(string file) => Path.Combine(AppContext.BaseDirectory, "envoy-config", file);

    public static string Fill(string template, IReadOnlyDictionary<string, string> values)
    {
        var rendered = Placeholder().Replace(template, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
        if (Placeholder().Match(rendered) is { Success: true } left)
        {
            throw new InvalidOperationException($"The bootstrap template has a placeholder nothing fills: {left.Value}. Known: {string.Join(", ", values.Keys)}.");
        }
        return rendered;
    }

    /// <summary>Quoted: a node id holds a '/', and YAML must read it as one string.</summary>
    public static string NodeId(string nodeId) => $"\"{nodeId}\"";

    [GeneratedRegex(@"\$\{([A-Z_]+)\}")]
    private static partial Regex Placeholder();
}
