using System.Threading.Channels;
using ZenMesh.Xds.Client;

namespace ZenMesh.Agent.Upstream;

/// <summary>What the agent must tell the control plane; kept until a stream is up to carry it.</summary>
public sealed class UpstreamReports
{
    private readonly Channel<DeltaRejection> _rejections = Channel.CreateBounded<DeltaRejection>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });

    public ChannelReader<DeltaRejection> Rejections => _rejections.Reader;

    public void Report(LocalRejection rejection) => _rejections.Writer.TryWrite(new DeltaRejection(rejection.TypeUrl, $"local client '{rejection.NodeId}' rejected it: {rejection.Message}"));
}
