using Envoy.Config.Core.V3;

namespace ZenMesh.Xds.Cache;

/// <summary>The default: one snapshot per node id.</summary>
internal sealed class NodeIdHash : INodeHash
{
    public string KeyOf(Node node) => node.Id;
}
