using System.Reflection;
using Google.Protobuf.Reflection;

namespace ZenMesh.Xds.Resources;

/// <summary>Every message of the generated Envoy API and of ZenMesh's own contracts, so JSON with '@type' (and nested typed_config) can be parsed.</summary>
public static class EnvoyTypeRegistry
{
    private static readonly Lazy<TypeRegistry> Registry = new(Build);

    public static TypeRegistry Instance => Registry.Value;

    private static TypeRegistry Build()
    {
        var files = new[] { typeof(Envoy.Config.Cluster.V3.Cluster).Assembly, typeof(ZenMesh.Contracts.V1.EndpointPolicy).Assembly }
            .SelectMany(a => a.GetTypes())
            .Select(t => t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static))
            .Where(p => p?.PropertyType == typeof(FileDescriptor))
            .Select(p => (FileDescriptor)p!.GetValue(null)!)
            .ToList();
        return TypeRegistry.FromFiles(files);
    }
}
