using System.Threading.Channels;

namespace ZenMesh.Agent.Upstream;

/// <summary>What the agent must tell the control plane; kept until a stream is up to carry it.</summary>
public sealed class UpstreamReports
{
    private readonly Channel<LocalRejection> _rejections = Channel.CreateBounded<LocalRejection>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });

    public ChannelReader<LocalRejection> Rejections => _rejections.Reader;

    public void Report(LocalRejection rejection) => _rejections.Writer.TryWrite(rejection);
}
