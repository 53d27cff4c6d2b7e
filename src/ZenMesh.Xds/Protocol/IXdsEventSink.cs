using Envoy.Config.Core.V3;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>What the xDS streams report beyond their own state: a client accepted or rejected config.</summary>
public interface IXdsEventSink
{
    /// <summary>A client ACKed a version it did not hold before (repeats and heartbeats are not reported).</summary>
    void Acked(Node node, string typeUrl, string version);

    void Nacked(NackRecord nack);
}

/// <summary>Reports nothing: for hosts that keep no record of ACKs and NACKs beyond client status.</summary>
internal sealed class NoXdsEvents : IXdsEventSink
{
    public void Acked(Node node, string typeUrl, string version)
    {
    }

    public void Nacked(NackRecord nack)
    {
    }
}
