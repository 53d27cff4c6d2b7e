using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.Secrets;

/// <summary>
/// Verifies a server's certificate against one CA given as PEM (the control plane's, from an
/// enrollment bundle or --ca), not the machine's trust store. Linked into the CLI as source.
/// </summary>
public static class ServerTrust
{
    public static RemoteCertificateValidationCallback Pinned(string caPem)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(caPem);
        return (_, presented, _, errors) =>
        {
            if (presented is null)
            {
                return false;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            // The name still has to match: a certificate for another host is not this control plane.
            return (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0 && chain.Build(presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData()));
        };
    }
}
