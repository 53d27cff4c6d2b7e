using Grpc.Core;

namespace ZenMesh.Xds.Protocol;

/// <summary>Decides whether a call may receive the config of the node it names.</summary>
public interface INodeAuthorizer
{
    /// <summary>True when callers must prove who they are (mutual TLS); false when the node id is trusted.</summary>
    bool Required { get; }

    /// <summary>
    /// Throws an RpcException (saying why and how to fix it) unless the call may act as
    /// <paramref name="nodeId"/>; returns a watch that calls <paramref name="onRevoked"/> if that
    /// right is withdrawn while the stream is open, or null.
    /// </summary>
    IDisposable? Authorize(ServerCallContext context, string nodeId, Action? onRevoked = null);

    /// <summary>The node id the caller has proved it is; only meaningful when <see cref="Required"/>.</summary>
    string Authenticate(ServerCallContext context);
}

/// <summary>Trusts the node id each client presents: loopback-only servers (local development, the agent's relay).</summary>
internal sealed class TrustedNodeIds : INodeAuthorizer
{
    public bool Required => false;

    public IDisposable? Authorize(ServerCallContext context, string nodeId, Action? onRevoked = null) => null;

    public string Authenticate(ServerCallContext context) =>
        throw new InvalidOperationException("Node ids are trusted here; there is no identity to authenticate.");
}
