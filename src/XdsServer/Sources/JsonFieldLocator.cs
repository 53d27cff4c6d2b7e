using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using ZenMesh.Xds.Resources;

namespace ZenMesh.XdsServer.Sources;

/// <summary>
/// Google.Protobuf's JSON parser says what is wrong but not where. When a resource fails to parse,
/// this re-parses it one field at a time, descending into messages, lists and Any, to name the field
/// path that fails (e.g. "filter_chains[0].filters[0].typed_config.stat_prefix").
/// </summary>
internal static class JsonFieldLocator
{
    public static (string Path, string Message)? Locate(JsonParser parser, JsonObject obj, MessageDescriptor descriptor, string path = "")
    {
        foreach (var (name, value) in obj)
        {
            if (name == "@type")
            {
                continue;
            }
            var field = descriptor.FindFieldByName(name) ?? descriptor.Fields.InDeclarationOrder().FirstOrDefault(f => f.JsonName == name);
            var here = path + (field?.Name ?? name);
            if (field is null)
            {
                return (here, $"'{descriptor.FullName}' has no field '{name}'");
            }
            var single = new JsonObject { [name] = value?.DeepClone() };
            var error = TryParse(parser, single.ToJsonString(), descriptor);
            if (error is null)
            {
                continue;
            }
            if (field.FieldType == FieldType.Message && !field.IsMap)
            {
                if (field.IsRepeated && value is JsonArray items)
                {
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (items[i] is JsonObject item && Inner(parser, item, field.MessageType, $"{here}[{i}].") is { } found)
                        {
                            return found;
                        }
                    }
                }
                else if (value is JsonObject nested && Inner(parser, nested, field.MessageType, here + ".") is { } found)
                {
                    return found;
                }
            }
            return (here, error);
        }
        return null;
    }

    private static (string, string)? Inner(JsonParser parser, JsonObject obj, MessageDescriptor descriptor, string path)
    {
        if (descriptor.FullName != Any.Descriptor.FullName)
        {
            return Locate(parser, obj, descriptor, path);
        }
        var typeUrl = obj["@type"]?.GetValue<string>() ?? "";
        var inner = EnvoyTypeRegistry.Instance.Find(typeUrl[(typeUrl.LastIndexOf('/') + 1)..]);
        return inner is null ? (path + "@type", $"unknown type '{typeUrl}'") : Locate(parser, obj, inner, path);
    }

    private static string? TryParse(JsonParser parser, string json, MessageDescriptor descriptor)
    {
        try
        {
            parser.Parse(json, descriptor);
            return null;
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            return e.Message.TrimEnd('.');
        }
    }
}
