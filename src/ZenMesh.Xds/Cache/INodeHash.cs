using Envoy.Config.Core.V3;

namespace ZenMesh.Xds.Cache;

/// <summary>Maps a client's node to the key its snapshot is stored under.</summary>
public interface INodeHash
{
    string KeyOf(Node node);
}
