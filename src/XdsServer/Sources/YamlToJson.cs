using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace ZenMesh.XdsServer.Sources;

/// <summary>
/// YAML to JSON for proto3 JSON parsing. Plain scalars that read as numbers, booleans or null become
/// those; quoted scalars stay strings. Each node's line is kept for error messages.
/// Aliases are refused (an alias bomb of 300 bytes expands to billions of nodes), and so is nesting
/// deeper than <see cref="MaxDepth"/>; both before any node is built.
/// </summary>
internal static partial class YamlToJson
{
    /// <summary>As deep as System.Text.Json reads by default; no bundle or resource needs more.</summary>
    public const int MaxDepth = 64;

    public static JsonNode? Convert(string text, out Func<int, int?> lineOfItem)
    {
        RefuseAliasesAndDepth(text);
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0)
        {
            lineOfItem = _ => null;
            return new JsonArray();
        }
        var root = stream.Documents[0].RootNode;
        var items = root switch
        {
            YamlSequenceNode s => s.Children,
            YamlMappingNode m when m.Children.TryGetValue(new YamlScalarNode("resources"), out var r) && r is YamlSequenceNode s => s.Children,
            _ => [],
        };
        lineOfItem = i => i >= 0 && i < items.Count ? (int)items[i].Start.Line : null;
        return ToJson(root);
    }

    private static void RefuseAliasesAndDepth(string text)
    {
        var parser = new Parser(new StringReader(text));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.AnchorAlias alias:
                    throw new YamlException(alias.Start, alias.End, $"YAML aliases (*{alias.Value}) are not accepted: write each value out where it is used.");
                case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                    if (++depth > MaxDepth)
                    {
                        throw new YamlException(parser.Current.Start, parser.Current.End, $"the document is nested more than {MaxDepth} levels deep; no bundle or resource needs that.");
                    }
                    break;
                case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                    depth--;
                    break;
            }
        }
    }

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => ToObject(map),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(ToJson)]),
        YamlScalarNode scalar => ToScalar(scalar),
        _ => throw new YamlException(node.Start, node.End, $"unsupported YAML node '{node.NodeType}'"),
    };

    private static JsonObject ToObject(YamlMappingNode map)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in map.Children)
        {
            var name = (key as YamlScalarNode)?.Value ?? throw new YamlException(key.Start, key.End, "mapping keys must be plain strings");
            if (obj.ContainsKey(name))
            {
                throw new YamlException(key.Start, key.End, $"duplicate key '{name}'");
            }
            obj[name] = ToJson(value);
        }
        return obj;
    }

    private static JsonValue? ToScalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(value);
        }
        if (value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }
        if (value is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }
        if (value is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }
        if (IntegerPattern().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }
        if (FloatPattern().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return JsonValue.Create(d);
        }
        return JsonValue.Create(value);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$")]
    private static partial Regex FloatPattern();
}
