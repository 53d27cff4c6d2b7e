using ZenMesh.Hosting;
using ZenMesh.Xds;
using System.Text.Json;
using System.Text.Json.Serialization;
using Google.Protobuf;
using ZenMesh.XdsServer.Model;
using ZenMesh.Xds.Resources;

namespace ZenMesh.XdsServer.Api;

/// <summary>How desired state looks on the wire: camelCase, durations as "2s", unknown fields refused.</summary>
public static class FlowApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new DurationTextConverter() },
    };

    /// <summary>Envoy resources as proto3 JSON with their upstream field names, for dry runs and /envoy views.</summary>
    public static readonly JsonFormatter Envoy = new(JsonFormatter.Settings.Default.WithTypeRegistry(EnvoyTypeRegistry.Instance).WithPreserveProtoFieldNames(true));

    public static Type SpecType(ResourceKind kind) => kind switch
    {
        ResourceKind.Edge => typeof(Edge),
        ResourceKind.Endpoint => typeof(Model.Endpoint),
        ResourceKind.Target => typeof(Target),
        _ => typeof(Flow),
    };

    /// <summary>A strong ETag from the resource's canonical JSON: equal content, equal tag, on every replica.</summary>
    public static string ETag(ResourceKind kind, object spec) =>
        $"\"{ContentHash.Of(JsonSerializer.SerializeToUtf8Bytes(spec, SpecType(kind), Options))}\"";
}
