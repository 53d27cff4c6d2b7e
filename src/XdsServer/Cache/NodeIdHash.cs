using Envoy.Config.Core.V3;

namespace ZenMesh.XdsServer.Cache;

/// <summary>The default: one snapshot per node id.</summary>
public sealed class NodeIdHash : INodeHash
{
    public string KeyOf(Node node) => node.Id;
}
