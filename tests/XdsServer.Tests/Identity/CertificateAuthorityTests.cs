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
}
