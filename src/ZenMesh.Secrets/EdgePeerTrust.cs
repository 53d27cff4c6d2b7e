using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace ZenMesh.Secrets;

/// <summary>
/// How an edge's own processes recognise each other over mutual TLS (the ingester's job stream and
/// its egress): both hold the edge's credential, as the agent keeps it (credential/edge.crt,
/// edge.key, and issuer.crt, the CA that signed it), and each accepts only a peer whose certificate
/// that CA signed for the same edge. The files are read again when the agent renews them.
/// </summary>
public sealed class EdgePeerTrust(string credentialDirectory)
{
    private readonly object _gate = new();
    private (DateTime Written, X509Certificate2 Certificate, X509Certificate2 Issuer, string NodeId)? _loaded;

    public string Directory { get; } = Path.GetFullPath(credentialDirectory);

    /// <summary>What is wrong with the directory (missing files, no edge identity), or null: checked once at start.</summary>
    public string? Problem()
    {
        try
        {
            _ = Current();
            return null;
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or InvalidDataException)
        {
            return $"the edge credential in {Directory} cannot be used ({e.Message}); point it at an enrolled agent's credential directory (<state-dir>/credential).";
        }
    }

    /// <summary>This edge's certificate (with its key), its issuer and its node id, as the files now hold them.</summary>
    public (X509Certificate2 Certificate, X509Certificate2 Issuer, string NodeId) Current()
    {
        var crt = Path.Combine(Directory, "edge.crt");
        var written = File.GetLastWriteTimeUtc(crt);
        lock (_gate)
        {
            if (_loaded is not { } loaded || loaded.Written != written)
            {
                using var pem = X509Certificate2.CreateFromPemFile(crt, Path.Combine(Directory, "edge.key"));
                // Through PKCS#12, so that TLS can use the key on every platform.
                var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                var issuerFile = Path.Combine(Directory, "issuer.crt");
                var issuer = X509Certificate2.CreateFromPem(File.ReadAllText(File.Exists(issuerFile) ? issuerFile : Path.Combine(Directory, "ca.crt")));
                var nodeId = EdgeIdentity.NodeIdOf(certificate) ?? throw new InvalidDataException($"{crt} names no edge (no spiffe://zenmesh/ URI)");
                _loaded = loaded = (written, certificate, issuer, nodeId);
            }
            return (loaded.Certificate, loaded.Issuer, loaded.NodeId);
        }
    }

    /// <summary>True when <paramref name="presented"/> is this edge's: signed by its issuer, in date, naming the same node id.</summary>
    public bool IsPeer(X509Certificate? presented)
    {
        if (presented is null)
        {
            return false;
        }
        var (_, issuer, nodeId) = Current();
        using var certificate = new X509Certificate2(presented);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(issuer);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate) && EdgeIdentity.NodeIdOf(certificate) == nodeId;
    }

    /// <summary>For a client's handshake: the server must be this edge's too.</summary>
    public RemoteCertificateValidationCallback ServerValidation => (_, presented, _, _) => IsPeer(presented);
}
