using ZenMesh.Secrets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.XdsServer.Identity;

/// <summary>
/// The control plane's own CA (ECDSA P-256): created on first start in its directory (ca.crt, and
/// ca.key with mode 0600), it signs edge credentials and, with --tls, the server's own certificate.
/// Replicas must share one: point Xds:CaDirectory at the same mounted directory.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    public const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    public const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    private readonly X509Certificate2 _certificate;

    private CertificateAuthority(X509Certificate2 certificate, string directory)
    {
        _certificate = certificate;
        Directory = directory;
        CertificatePem = certificate.ExportCertificatePem();
    }

    public string Directory { get; }

    /// <summary>The CA's certificate, PEM: what agents trust and what verifies an edge credential.</summary>
    public string CertificatePem { get; }

    public X509Certificate2 Certificate => _certificate;

    /// <summary>Loads the CA from <paramref name="directory"/>, or creates one there when it has none.</summary>
    public static CertificateAuthority LoadOrCreate(string directory, TimeProvider time, out bool created)
    {
        var certFile = Path.Combine(directory, "ca.crt");
        var keyFile = Path.Combine(directory, "ca.key");
        created = false;
        FinishCreation(directory);
        if (!File.Exists(certFile) || !File.Exists(keyFile))
        {
            if (File.Exists(certFile) != File.Exists(keyFile))
            {
                throw new InvalidOperationException($"The CA directory {directory} has only one of ca.crt and ca.key; restore the other, or remove both to create a new CA (which invalidates every edge credential).");
            }
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN=ZenMesh control plane CA {Guid.NewGuid():N}, O=ZenMesh", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
            var now = time.GetUtcNow();
            using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
            CreatePair(directory, certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
            created = true;
        }
        return new CertificateAuthority(X509Certificate2.CreateFromPemFile(certFile, keyFile), Path.GetFullPath(directory));
    }

    /// <summary>
    /// The certificate and its key appear together or not at all, even across a power cut: both are
    /// written (and synced) in a directory of their own beside the CA's, which is then renamed into
    /// place. A crash before the rename leaves that directory, and the next start begins again: no
    /// credential can have been issued by a CA that was never in place.
    /// </summary>
    private static void CreatePair(string directory, string certificatePem, string keyPem)
    {
        var full = Path.GetFullPath(directory);
        var parent = Path.GetDirectoryName(full)!;
        var staging = full + ".creating";
        ZenMesh.Data.DirectorySync.CreateDurably(parent);
        if (System.IO.Directory.Exists(staging))
        {
            System.IO.Directory.Delete(staging, recursive: true);
        }
        System.IO.Directory.CreateDirectory(staging);
        ZenMesh.Secrets.SecretFile.Write(Path.Combine(staging, "ca.key"), keyPem);
        ZenMesh.Secrets.SecretFile.Write(Path.Combine(staging, "ca.crt"), certificatePem);
        if (System.IO.Directory.Exists(full) && System.IO.Directory.EnumerateFileSystemEntries(full).Any())
        {
            // A directory with other files in it (a mount, notes): the pair moves in one by one, the key
            // last; a crash between the two leaves the key in the staging directory, and the next
            // start finishes the move (FinishCreation).
            File.Move(Path.Combine(staging, "ca.crt"), Path.Combine(full, "ca.crt"));
            File.Move(Path.Combine(staging, "ca.key"), Path.Combine(full, "ca.key"));
            ZenMesh.Data.DirectorySync.Flush(full);
            System.IO.Directory.Delete(staging);
        }
        else
        {
            if (System.IO.Directory.Exists(full))
            {
                System.IO.Directory.Delete(full);
            }
            System.IO.Directory.Move(staging, full);
        }
        ZenMesh.Data.DirectorySync.Flush(parent);
    }

    /// <summary>
    /// A creation a crash interrupted: its key still staged beside a certificate already moved in is
    /// moved in too; a staging directory with nothing moved yet is dropped, and the CA made anew.
    /// </summary>
    private static void FinishCreation(string directory)
    {
        var full = Path.GetFullPath(directory);
        var staging = full + ".creating";
        if (!System.IO.Directory.Exists(staging))
        {
            return;
        }
        var stagedKey = Path.Combine(staging, "ca.key");
        if (File.Exists(Path.Combine(full, "ca.crt")) && !File.Exists(Path.Combine(full, "ca.key")) && File.Exists(stagedKey))
        {
            File.Move(stagedKey, Path.Combine(full, "ca.key"));
            ZenMesh.Data.DirectorySync.Flush(full);
        }
        System.IO.Directory.Delete(staging, recursive: true);
    }

    /// <summary>A client certificate for an edge: its identity in the SAN (URI) and the subject's CN.</summary>
    public X509Certificate2 IssueEdge(PublicKey key, string nodeId, DateTimeOffset notBefore, DateTimeOffset notAfter, byte[] serial)
    {
        var subject = new X500DistinguishedNameBuilder();
        subject.AddCommonName(nodeId);
        subject.AddOrganizationName("ZenMesh edge");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(EdgeIdentity.UriOf(nodeId));
        request.CertificateExtensions.Add(san.Build(critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        // Client: to the control plane. Server too: an edge's ingester serves its job stream to its
        // egress over mutual TLS with this same credential.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid(ClientAuthOid), new System.Security.Cryptography.Oid(ServerAuthOid)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        return request.Create(_certificate, Max(notBefore, _certificate.NotBefore), Min(notAfter, _certificate.NotAfter), serial);
    }

    /// <summary>The server's own TLS certificate for <paramref name="names"/> (DNS names or IP addresses).</summary>
    public X509Certificate2 IssueServer(IEnumerable<string> names, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ZenMesh control plane, O=ZenMesh", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (System.Net.IPAddress.TryParse(name, out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(name);
            }
        }
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new System.Security.Cryptography.Oid(ServerAuthOid)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        using var issued = request.Create(_certificate, Max(notBefore, _certificate.NotBefore), Min(notAfter, _certificate.NotAfter), RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        // Through PKCS#12 so that the TLS stack can use the key on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Null when <paramref name="presented"/> chains to this CA for client authentication at <paramref name="at"/>; else why not.</summary>
    public string? Verify(X509Certificate2 presented, DateTimeOffset at)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = at.UtcDateTime;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(ClientAuthOid));
        if (chain.Build(presented))
        {
            return null;
        }
        return string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
    }

    // An issued certificate must lie within the CA's own validity (.NET refuses otherwise); the CA's
    // NotBefore is whole seconds, so a certificate issued in the CA's first second would not.
    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    public void Dispose() => _certificate.Dispose();
}
