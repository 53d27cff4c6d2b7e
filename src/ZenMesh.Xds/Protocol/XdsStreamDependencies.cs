using Envoy.Config.Core.V3;
using Microsoft.Extensions.Logging;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Status;

namespace ZenMesh.Xds.Protocol;

/// <summary>What every stream needs from the server, bundled so services stay one-liners.</summary>
internal sealed class XdsStreamDependencies(
    ISnapshotCache cache,
    INodeHash nodeHash,
    ClientRegistry registry,
    StreamAdmission admission,
    PushGate pushGate,
    XdsLimits limits,
    TimeProvider time,
    ILoggerFactory loggerFactory,
    IXdsEventSink events,
    INodeAuthorizer authorization,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime)
{
    /// <summary>Fires when the host begins to stop: every stream ends at once, so clients reconnect (to another replica) instead of holding up shutdown.</summary>
    public CancellationToken Stopping { get; } = lifetime.ApplicationStopping;

    /// <summary>Random per process so that a nonce from a stream of an earlier process never matches one of ours.</summary>
    public string NonceEpoch { get; } = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()));

    public ControlPlane Identity { get; } = new() { Identifier = $"zenmesh-xds/{Environment.MachineName}" };

    public ISnapshotCache Cache { get; } = cache;
    public INodeHash NodeHash { get; } = nodeHash;
    public ClientRegistry Registry { get; } = registry;
    public StreamAdmission Admission { get; } = admission;
    public PushGate PushGate { get; } = pushGate;
    public XdsLimits Limits { get; } = limits;
    public TimeProvider Time { get; } = time;
    public ILoggerFactory LoggerFactory { get; } = loggerFactory;
    public ZenMesh.Xds.Protocol.IXdsEventSink Events { get; } = events;
    public INodeAuthorizer Authorization { get; } = authorization;
}
