using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace ZenMesh.Agent.Identity;

/// <summary>
/// The credential in the state directory: credential/edge.key (mode 0600), edge.crt, ca.crt and
/// edge.json. Each file is written to a temporary name and renamed, so a crash leaves the old
/// credential or the new one.
/// </summary>
public static class CredentialFiles
{
    private sealed record Meta(string NodeId, string ControlPlane, string Serial);

    public static string Directory(string stateDir) => Path.Combine(stateDir, "credential");

    public static EdgeCredential? Load(string stateDir)
    {
        var dir = Directory(stateDir);
        var (key, crt, ca, meta) = (Path.Combine(dir, "edge.key"), Path.Combine(dir, "edge.crt"), Path.Combine(dir, "ca.crt"), Path.Combine(dir, "edge.json"));
        if (!File.Exists(meta))
        {
            return null;
        }
        var m = JsonSerializer.Deserialize<Meta>(File.ReadAllText(meta), JsonSerializerOptions.Web) ?? throw new InvalidDataException($"{meta} is empty; enroll again.");
        using var pem = X509Certificate2.CreateFromPemFile(crt, key);
        // Through PKCS#12, so that TLS can use the key on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        return new EdgeCredential(m.NodeId, m.ControlPlane, certificate, File.ReadAllText(ca), m.Serial, certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime());
    }

    public static EdgeCredential Save(string stateDir, string nodeId, string controlPlane, string certificatePem, string serverCaPem, ECDsa key, string? issuerPem = null)
    {
        var dir = Directory(stateDir);
        if (OperatingSystem.IsWindows())
        {
            ZenMesh.Data.DirectorySync.CreateDurably(dir);
        }
        else
        {
            // Owner-only from creation; an existing directory is narrowed too.
            ZenMesh.Data.DirectorySync.CreateDurably(Path.GetDirectoryName(Path.GetFullPath(dir))!);
            var created = !System.IO.Directory.Exists(dir);
            System.IO.Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (created)
            {
                ZenMesh.Data.DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(dir))!);
            }
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        using var certificate = X509Certificate2.CreateFromPem(certificatePem);
        Write(Path.Combine(dir, "edge.key"), key.ExportPkcs8PrivateKeyPem());
        Write(Path.Combine(dir, "edge.crt"), certificatePem);
        Write(Path.Combine(dir, "ca.crt"), serverCaPem);
        if (issuerPem is { Length: > 0 })
        {
            // For the edge's own processes to recognise each other (ZenMesh.Secrets.EdgePeerTrust).
            Write(Path.Combine(dir, "issuer.crt"), issuerPem);
        }
        Write(Path.Combine(dir, "edge.json"), JsonSerializer.Serialize(new Meta(nodeId, controlPlane, certificate.SerialNumber), JsonSerializerOptions.Web));
        return Load(stateDir)!;
    }

    private static void Write(string path, string text) => ZenMesh.Secrets.SecretFile.Write(path, text);
}
