using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.Contracts.V1;
using ZenMesh.Secrets;

namespace ZenMesh.Agent.Identity;

/// <summary>
/// "agent enroll --bundle &lt;file&gt;": a new key (never leaves the machine), a CSR, and the one-time
/// token exchanged for the edge's credential, stored in the state directory.
/// </summary>
public static class EnrollCommand
{
    public static async Task<int> RunAsync(string bundlePath, string stateDir, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        try
        {
            var bundle = EnrollmentBundle.Read(bundlePath);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var csr = new CertificateRequest($"CN={bundle.Edge}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
            var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
            handler.SslOptions.RemoteCertificateValidationCallback = ServerTrust.Pinned(bundle.CaCertificate);
            using var channel = GrpcChannel.ForAddress(bundle.ControlPlane, new GrpcChannelOptions { HttpHandler = handler });
            var client = new EdgeEnrollment.EdgeEnrollmentClient(channel);
            EdgeCredentialResponse issued;
            try
            {
                issued = await client.EnrollAsync(new EnrollRequest { Token = bundle.Token, CsrPem = csr }, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied or StatusCode.InvalidArgument or StatusCode.FailedPrecondition)
            {
                await error.WriteLineAsync($"The control plane refused the enrollment: {e.Status.Detail}").ConfigureAwait(false);
                return 1;
            }
            catch (RpcException e)
            {
                await error.WriteLineAsync($"Could not reach the control plane at {bundle.ControlPlane} ({e.StatusCode}: {e.Status.Detail}). Check the address in the bundle and that this machine can connect to it.").ConfigureAwait(false);
                return 4;
            }
            var credential = CredentialFiles.Save(stateDir, issued.NodeId, bundle.ControlPlane, issued.CertificatePem, issued.CaCertificatePem, key, issued.IssuerPem);
            await output.WriteLineAsync($"Enrolled as edge '{credential.NodeId}' (certificate serial {credential.Serial}, valid until {credential.NotAfter:O}, renewed automatically). Credential in {Path.GetFullPath(CredentialFiles.Directory(stateDir))}. Start with: agent run --state-dir {stateDir}").ConfigureAwait(false);
            return 0;
        }
        catch (EnrollmentException e)
        {
            await error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
    }
}
