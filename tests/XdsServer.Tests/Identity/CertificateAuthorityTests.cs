using ZenMesh.Secrets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.XdsServer.Identity;

namespace ZenMesh.XdsServer.Tests.Identity;

public sealed class CertificateAuthorityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-ca-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void IssueEdge_BeforeTheCaItself_IsClampedIntoTheCasValidity()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 5, 0, 0, 500, TimeSpan.Zero));
        using var ca = CertificateAuthority.LoadOrCreate(_dir, time, out var created);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).PublicKey;

        using var edge = ca.IssueEdge(publicKey, "default/local", time.GetUtcNow().AddMinutes(-10), time.GetUtcNow().AddDays(30), [1, 2, 3]);

        Assert.True(created);
        Assert.Equal(ca.Certificate.NotBefore, edge.NotBefore);
        Assert.Equal("default/local", EdgeIdentity.NodeIdOf(edge));
        Assert.Null(ca.Verify(edge, time.GetUtcNow()));
    }

    [Fact]
    public void LoadOrCreate_ASecondTime_LoadsTheSameCa_AndAHalfPresentCaIsRefused()
    {
        string first;
        using (var ca = CertificateAuthority.LoadOrCreate(_dir, TimeProvider.System, out _))
        {
            first = ca.CertificatePem;
        }
        using (var again = CertificateAuthority.LoadOrCreate(_dir, TimeProvider.System, out var created))
        {
            Assert.False(created);
            Assert.Equal(first, again.CertificatePem);
        }
        File.Delete(Path.Combine(_dir, "ca.key"));
        var error = Assert.Throws<InvalidOperationException>(() => CertificateAuthority.LoadOrCreate(_dir, TimeProvider.System, out _));
        Assert.Equal($"The CA directory {_dir} has only one of ca.crt and ca.key; restore the other, or remove both to create a new CA (which invalidates every edge credential).", error.Message);
    }

    [Fact]
    public void ACaDirectoryWithOtherFiles_GetsThePair_AndACreationInterruptedBetweenTheTwoFiles_IsFinished()
    {
        var caDir = Path.Combine(_dir, "ca");
        Directory.CreateDirectory(caDir);
        File.WriteAllText(Path.Combine(caDir, "README"), "the control plane's CA");
        using (var ca = CertificateAuthority.LoadOrCreate(caDir, TimeProvider.System, out var created))
        {
            Assert.True(created);
        }
        Assert.True(File.Exists(Path.Combine(caDir, "ca.key")));
        Assert.True(File.Exists(Path.Combine(caDir, "README")));

        // A crash after the certificate moved in and before the key did: the key is still staged.
        var staging = Directory.CreateDirectory(caDir + ".creating").FullName;
        File.Move(Path.Combine(caDir, "ca.key"), Path.Combine(staging, "ca.key"));
        var pem = File.ReadAllText(Path.Combine(caDir, "ca.crt"));

        using var finished = CertificateAuthority.LoadOrCreate(caDir, TimeProvider.System, out var recreated);

        Assert.False(recreated);
        Assert.Equal(pem, finished.CertificatePem);
        Assert.False(Directory.Exists(staging));
    }
}
