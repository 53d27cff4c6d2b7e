using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Hosting;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Identity;

/// <summary>Exchanges enrollment tokens and CSRs for edge credentials; renews them over mTLS.</summary>
internal sealed class EdgeEnrollmentService(
    CertificateAuthority authority,
    EdgeCredentialStore credentials,
    XdsAuthorization authorization,
    DesiredStateStore desired,
    EvidenceLedger ledger,
    EnrollmentContext enrollment,
    IOptions<XdsServerOptions> options,
    TimeProvider time) : EdgeEnrollment.EdgeEnrollmentBase
{
    public override async Task<EdgeCredentialResponse> Enroll(EnrollRequest request, ServerCallContext context)
    {
        if (string.IsNullOrWhiteSpace(request.Token))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "token is empty: send the 'token' of the enrollment bundle."));
        }
        var key = PublicKeyOf(request.CsrPem);
        var (enrollment, problem) = credentials.Redeem(request.Token.Trim(), time.GetUtcNow());
        if (enrollment is null)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.PermissionDenied, problem!));
        }
        if (!desired.Current.Edges.ContainsKey(enrollment.NodeId))
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, $"Edge '{enrollment.NodeId}' was deleted after this token was issued; create the edge again and ask for a new bundle."));
        }
        return await IssueAsync(key, enrollment.NodeId, "enrolled").ConfigureAwait(false);
    }

    public override async Task<EdgeCredentialResponse> Renew(RenewRequest request, ServerCallContext context)
    {
        if (!authorization.Required)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.FailedPrecondition, "Renewal proves identity with the current credential over mutual TLS, but this control plane serves xDS without TLS. Start it with --tls (or TLS certificate files)."));
        }
        var nodeId = authorization.Authenticate(context);
        return await IssueAsync(PublicKeyOf(request.CsrPem), nodeId, "renewed").ConfigureAwait(false);
    }

    private async Task<EdgeCredentialResponse> IssueAsync(PublicKey key, string nodeId, string action)
    {
        var now = time.GetUtcNow();
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // a positive serial, as RFC 5280 requires
        using var certificate = authority.IssueEdge(key, nodeId, now.AddMinutes(-5), now + options.Value.CredentialLifetime, serial);
        var credential = new EdgeCredential(certificate.SerialNumber, nodeId, now, certificate.NotAfter.ToUniversalTime(), null, null);
        credentials.RecordIssued(credential);
        var (tenant, _) = Model.DesiredState.Split(nodeId);
        await ledger.AppendAsync(tenant, "identity", nodeId, $"edges/{Model.DesiredState.Split(nodeId).Name}",
            JsonSerializer.Serialize(new { action, serial = credential.Serial, notAfter = credential.NotAfter })).ConfigureAwait(false);
        return new EdgeCredentialResponse
        {
            NodeId = nodeId,
            CertificatePem = certificate.ExportCertificatePem(),
            CaCertificatePem = enrollment.ServerTrustPem,
            IssuerPem = authority.CertificatePem,
            NotAfter = Timestamp.FromDateTimeOffset(credential.NotAfter),
            Serial = credential.Serial,
        };
    }

    private static PublicKey PublicKeyOf(string csrPem)
    {
        CertificateRequest csr;
        try
        {
            csr = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, $"csr_pem is not a valid PKCS#10 certificate signing request in PEM ({e.Message}). Create one with the agent, or 'openssl req -new -key edge.key'."));
        }
        var key = csr.PublicKey;
        var strong = key.GetECDsaPublicKey() is { } ec ? ec.KeySize >= 256 : key.GetRSAPublicKey() is { } rsa && rsa.KeySize >= 2048;
        if (!strong)
        {
            throw new RpcException(new Grpc.Core.Status(StatusCode.InvalidArgument, "The CSR's key is too weak or of an unsupported kind; use ECDSA P-256 (recommended), P-384, or RSA of 2048 bits or more."));
        }
        return key;
    }
}
