using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using YamlDotNet.Core;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;

namespace ZenMesh.XdsServer.Sources;

/// <summary>
/// Parses a resources file: a JSON or YAML array (or an object with a 'resources' array) of Envoy
/// resources in proto3 JSON, each with its '@type'. Collects every problem, each naming the array
/// index, the type and the field, before giving up.
/// </summary>
public static class ResourceFileParser
{
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithTypeRegistry(EnvoyTypeRegistry.Instance).WithIgnoreUnknownFields(false));

    public static Snapshot Parse(string path, string text)
    {
        var errors = new List<string>();
        JsonNode? root;
        Func<int, int?> lineOf = _ => null;
        try
        {
            root = LooksLikeJson(path, text)
                ? JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip })
                : YamlToJson.Convert(text, out lineOf);
        }
        catch (JsonException e)
        {
            throw new ResourceFileException(path, [$"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message.Split(" LineNumber:")[0]}"]);
        }
        catch (YamlException e)
        {
            throw new ResourceFileException(path, [$"not valid YAML (line {e.Start.Line}, column {e.Start.Column}): {e.Message}"]);
        }
        var items = root switch
        {
            JsonArray a => a,
            JsonObject o when o["resources"] is JsonArray a => a,
            _ => throw new ResourceFileException(path, ["the file must hold an array of resources (or an object with a 'resources' array), each an object with '@type', e.g. [{\"@type\": \"" + TypeUrls.Cluster + "\", \"name\": \"backend\", ...}]"]),
        };
        var resources = new List<XdsResource>();
        var firstIndex = new Dictionary<(string, string), int>();
        for (var i = 0; i < items.Count; i++)
        {
            var where = lineOf(i) is { } line ? $"resources[{i}] (line {line})" : $"resources[{i}]";
            if (items[i] is not JsonObject item)
            {
                errors.Add($"{where}: expected an object with '@type', found {Describe(items[i])}.");
                continue;
            }
            if (item["@type"] is not JsonValue typeValue || !typeValue.TryGetValue<string>(out var typeUrl) || typeUrl.Length == 0)
            {
                errors.Add($"{where}: '@type' is missing; set it to one of {string.Join(", ", TypeUrls.PushOrder)}.");
                continue;
            }
            if (typeUrl == TypeUrls.ResourceWrapper)
            {
                if (ParseWrapped(item, where) is { } wrapped)
                {
                    if (wrapped.Error is not null)
                    {
                        errors.Add(wrapped.Error);
                    }
                    else if (firstIndex.TryGetValue((wrapped.Resource!.TypeUrl, wrapped.Resource.Name), out var before))
                    {
                        errors.Add($"{where} (Resource '{wrapped.Resource.Name}'): the name is already used by resources[{before}]; names must be unique within a type. Rename or remove one.");
                    }
                    else
                    {
                        firstIndex[(wrapped.Resource.TypeUrl, wrapped.Resource.Name)] = i;
                        resources.Add(wrapped.Resource);
                    }
                }
                continue;
            }
            if (!TypeUrls.IsServed(typeUrl))
            {
                errors.Add($"{where}: '@type' '{typeUrl}' is not a resource type this server serves; use one of {string.Join(", ", TypeUrls.PushOrder)}, or wrap one in {TypeUrls.ResourceWrapper} to give it a ttl.");
                continue;
            }
            var shortType = typeUrl[(typeUrl.LastIndexOf('.') + 1)..];
            XdsResource resource;
            try
            {
                var any = Parser.Parse<Any>(item.ToJsonString());
                resource = XdsResource.Create(any.Unpack(EnvoyTypeRegistry.Instance));
            }
            catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException or ArgumentException)
            {
                var descriptor = EnvoyTypeRegistry.Instance.Find(typeUrl[TypeUrls.Prefix.Length..])!;
                var (field, message) = JsonFieldLocator.Locate(Parser, item, descriptor) ?? ("?", e.Message.TrimEnd('.'));
                errors.Add($"{where} ({shortType}{NameHint(item, typeUrl)}): field '{field}': {message}. Fix or remove that field.");
                continue;
            }
            if (resource.Name.Length == 0)
            {
                errors.Add($"{where} ({shortType}): field '{ResourceNames.FieldOf(typeUrl)}' is empty; every resource needs a name, unique within its type.");
                continue;
            }
            if (firstIndex.TryGetValue((typeUrl, resource.Name), out var earlier))
            {
                errors.Add($"{where} ({shortType} '{resource.Name}'): the name is already used by resources[{earlier}]; names must be unique within a type. Rename or remove one.");
                continue;
            }
            firstIndex[(typeUrl, resource.Name)] = i;
            resources.Add(resource);
        }
        if (errors.Count > 0)
        {
            throw new ResourceFileException(path, errors);
        }
        var snapshot = Snapshot.Create(resources, path);
        var inconsistencies = SnapshotConsistency.Check(snapshot);
        if (inconsistencies.Count > 0)
        {
            throw new ResourceFileException(path, inconsistencies);
        }
        return snapshot;
    }

    /// <summary>
    /// An envoy.service.discovery.v3.Resource wrapping a served resource, to give it a TTL:
    /// {"@type": ".../envoy.service.discovery.v3.Resource", "ttl": "30s", "resource": {"@type": ..., ...}}.
    /// </summary>
    private static (XdsResource? Resource, string? Error)? ParseWrapped(JsonObject item, string where)
    {
        Envoy.Service.Discovery.V3.Resource wrapper;
        try
        {
            var fields = (JsonObject)item.DeepClone();
            fields.Remove("@type");
            wrapper = Parser.Parse<Envoy.Service.Discovery.V3.Resource>(fields.ToJsonString());
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            var (field, message) = JsonFieldLocator.Locate(Parser, item, Envoy.Service.Discovery.V3.Resource.Descriptor) ?? ("?", e.Message.TrimEnd('.'));
            return (null, $"{where} (Resource): field '{field}': {message}. Fix or remove that field.");
        }
        if (wrapper.Resource_ is null || !TypeUrls.IsServed(wrapper.Resource_.TypeUrl))
        {
            return (null, $"{where} (Resource): field 'resource' must hold one of {string.Join(", ", TypeUrls.PushOrder)} (with its '@type'); it holds '{wrapper.Resource_?.TypeUrl ?? "nothing"}'.");
        }
        TimeSpan? ttl = wrapper.Ttl?.ToTimeSpan();
        if (ttl is { } t && t <= TimeSpan.Zero)
        {
            return (null, $"{where} (Resource): field 'ttl' is {t}; a TTL must be positive, e.g. \"30s\", or left out for none.");
        }
        var resource = XdsResource.Create(wrapper.Resource_.Unpack(EnvoyTypeRegistry.Instance), ttl);
        if (resource.Name.Length == 0)
        {
            return (null, $"{where} (Resource): field 'resource.{ResourceNames.FieldOf(resource.TypeUrl)}' is empty; every resource needs a name, unique within its type.");
        }
        if (wrapper.Name.Length > 0 && wrapper.Name != resource.Name)
        {
            return (null, $"{where} (Resource): field 'name' is '{wrapper.Name}' but the wrapped resource is named '{resource.Name}'; leave 'name' out or make them equal.");
        }
        return (resource, null);
    }

    private static bool LooksLikeJson(string path, string text) =>
        path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
        || (!path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) && !path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) && text.TrimStart().StartsWith('['));

    private static string Describe(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "an array",
        JsonValue v => v.GetValueKind() == JsonValueKind.String ? $"the string \"{v}\"" : $"the value {v.ToJsonString()}",
        _ => node.GetValueKind().ToString(),
    };

    private static string NameHint(JsonObject item, string typeUrl)
    {
        var field = ResourceNames.FieldOf(typeUrl);
        var camel = field == "cluster_name" ? "clusterName" : field;
        var name = (item[field] ?? item[camel]) as JsonValue;
        return name is not null && name.TryGetValue<string>(out var s) ? $" '{s}'" : "";
    }
}
