using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.Agent.Identity;

/// <summary>Verifies the control plane's certificate against the CA named in the bundle (not the machine's trust store).</summary>
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
