using ZenMesh.Secrets;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;

namespace ZenMesh.XdsServer.Identity;

/// <summary>
/// Who may receive which config. With TLS, an xDS call must present an edge credential issued by
/// this control plane, unrevoked, whose identity equals the node id it claims: so an edge gets its
/// own config and no one else's. Without TLS (the local default, loopback only) the node id is trusted.
/// </summary>
public sealed class XdsAuthorization(CertificateAuthority authority, EdgeCredentialStore credentials, TimeProvider time, bool required) : INodeAuthorizer
{
    /// <summary>True when xDS calls must present an edge credential (TLS is on).</summary>
    public bool Required { get; } = required;

    /// <summary>
    /// Refuses the call (Unauthenticated or PermissionDenied, saying why and how to fix it) unless
    /// it may act as <paramref name="nodeId"/>. Returns a watch that calls
    /// <paramref name="onRevoked"/> if the edge is revoked while the stream is open, or null when not required.
    /// </summary>
    public IDisposable? Authorize(ServerCallContext context, string nodeId, Action? onRevoked = null)
    {
        if (!Required)
        {
            return null;
        }
        var identity = Authenticate(context);
        if (identity != nodeId)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, $"The client certificate is the credential of edge '{identity}', but the request's node.id is '{nodeId}'. An edge receives only its own config: set node.id to '{identity}', or enroll '{nodeId}' and use its credential."));
        }
        return onRevoked is null ? null : credentials.WatchRevocation(identity, onRevoked);
    }

    /// <summary>The node id of the caller's valid edge credential; refuses the call when there is none.</summary>
    public string Authenticate(ServerCallContext context)
    {
        X509Certificate2? certificate;
        try
        {
            certificate = context.GetHttpContext().Connection.ClientCertificate;
        }
        catch (ObjectDisposedException)
        {
            // The client hung up while its stream was being opened (a flood of streams does): an end, not a fault.
            throw new RpcException(new Grpc.Core.Status(StatusCode.Cancelled, "The client closed the connection before its certificate could be read."));
        }
        if (certificate is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, "This control plane serves xDS over mutual TLS: present the edge's client certificate. To get one, create an enrollment bundle (POST /api/v1/edges/{edge}/enrollment, or 'zenmesh' CLI) and exchange it with 'agent enroll --bundle <file>'."));
        }
        return Check(certificate);
    }

    private string Check(X509Certificate2 certificate)
    {
        var now = time.GetUtcNow();
        if (authority.Verify(certificate, now) is { } invalid)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, $"The client certificate (subject '{certificate.Subject}') is not a valid edge credential of this control plane: {invalid}. Enroll the edge again to get one."));
        }
        var serial = certificate.SerialNumber;
        var identity = EdgeIdentity.NodeIdOf(certificate);
        var recorded = credentials.Find(serial);
        if (identity is null || recorded is null || recorded.NodeId != identity)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.Unauthenticated, $"The client certificate (serial {serial}) was signed by this control plane's CA but is not a credential it issued to an edge. Enroll the edge to get one."));
        }
        if (recorded.RevokedAt is { } revokedAt)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, $"The credential of edge '{identity}' (serial {serial}) was revoked at {revokedAt:O} ({recorded.RevokedReason}). Enroll the edge again: POST /api/v1/edges/{{edge}}/enrollment."));
        }
        return identity;
    }
}
