using Envoy.Config.Core.V3;
using ZenMesh.XdsServer.Status;

namespace ZenMesh.XdsServer.Evidence;

/// <summary>What the xDS streams report beyond their own state: a client accepted or rejected config.</summary>
public interface IXdsEventSink
{
    /// <summary>A client ACKed a version it did not hold before (repeats and heartbeats are not reported).</summary>
    void Acked(Node node, string typeUrl, string version);

    void Nacked(NackRecord nack);
}
