using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>
/// Edge credentials laid out as the agent keeps them (credential/edge.key, edge.crt, issuer.crt),
/// issued by a CA of the test's own the way the control plane issues them: the node id in a SPIFFE
/// URI SAN, usable for client and server authentication.
/// </summary>
internal sealed class TestCredentials : IDisposable
{
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public TestCredentials()
    {
        var request = new CertificateRequest("CN=test control plane CA", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    public X509Certificate2 Ca { get; }

    /// <summary>A credential directory for <paramref name="nodeId"/>; with <paramref name="issuer"/>, signed by another CA.</summary>
    public string Directory(string nodeId, TestCredentials? issuer = null)
    {
        var signer = issuer ?? this;
        var dir = System.IO.Directory.CreateTempSubdirectory("zenmesh-credential-").FullName;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={nodeId}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("spiffe://zenmesh/" + nodeId));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2"), new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.Create(signer.Ca, DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddHours(12), RandomNumberGenerator.GetBytes(9));
        File.WriteAllText(Path.Combine(dir, "edge.crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(dir, "edge.key"), key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(dir, "issuer.crt"), signer.Ca.ExportCertificatePem());
        return dir;
    }

    public void Dispose()
    {
        Ca.Dispose();
        _caKey.Dispose();
    }
}
