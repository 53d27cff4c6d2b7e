using ZenMesh.Secrets;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Envoy.Service.Status.V3;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Contracts.V1;
using ZenMesh.XdsServer.Identity;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Identity;

/// <summary>
/// Edges enroll with a one-time bundle, receive a credential signed by the control plane's CA, and
/// with TLS on every xDS call must present it: an unenrolled client, a foreign certificate and a
/// client claiming another edge's node id are refused; rotating or deleting an edge revokes it.
/// </summary>
public sealed class EnrollmentTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync(_time, "--tls");
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("edges/other", """{"mode":"vm"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders"}"""),
            ("targets/billing", """{"edge":"other","allowLoopback":true,"url":"http://127.0.0.1:9200/hooks"}"""),
            ("flows/gh-billing", """{"endpoint":"gh","target":"billing"}"""));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static async Task<string[]> ClustersAsync(FakeSotwClient client)
    {
        await client.RequestAsync(TypeUrls.Cluster);
        return FakeSotwClient.Names(await client.ReceiveAsync(TypeUrls.Cluster)).ToArray();
    }

    [Fact]
    public async Task TheBundle_SaysWhereAndWhatToTrust_AndIsShortLived()
    {
        var bundle = await TestEdge.BundleAsync(_server, "local");

        Assert.Equal("default/local", bundle.GetProperty("edge").GetString());
        Assert.Equal($"https://127.0.0.1:{_server.AdsUri.Port}", bundle.GetProperty("controlPlane").GetString());
        Assert.True(bundle.GetProperty("tls").GetBoolean());
        Assert.StartsWith("zm_enroll_", bundle.GetProperty("token").GetString());
        using var ca = X509Certificate2.CreateFromPem(bundle.GetProperty("caCertificate").GetString());
        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMinutes(15), bundle.GetProperty("expiresAt").GetDateTimeOffset());

        var custom = await TestEdge.BundleAsync(_server, "local", """{"ttl":"2m"}""");
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromMinutes(2), custom.GetProperty("expiresAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task AnEnrolledEdge_ReceivesItsOwnConfig_OverMutualTls()
    {
        using var edge = await TestEdge.EnrollAsync(_server, "local");

        Assert.Equal("default/local", edge.Credential!.NodeId);
        Assert.Equal("default/local", EdgeIdentity.NodeIdOf(edge.Certificate!));
        Assert.Contains("CN=default/local", edge.Certificate!.Subject, StringComparison.Ordinal);
        Assert.Equal(_time.GetUtcNow().AddDays(30), edge.Credential.NotAfter.ToDateTimeOffset(), TimeSpan.FromSeconds(1));
        await using var envoy = edge.Sotw("default/local");
        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], await ClustersAsync(envoy));
    }

    [Fact]
    public async Task AnUnenrolledClient_IsRefused_SayingHowToEnroll()
    {
        var ca = (await TestEdge.BundleAsync(_server, "local")).GetProperty("caCertificate").GetString()!;
        using var stranger = TestEdge.Unenrolled(_server, ca);
        await using var envoy = stranger.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Cluster);

        var refused = await envoy.FailureAsync();
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.StartsWith("This control plane serves xDS over mutual TLS: present the edge's client certificate.", refused.Status.Detail);

        var fetch = new Envoy.Service.Cluster.V3.ClusterDiscoveryService.ClusterDiscoveryServiceClient(stranger.Channel());
        var fetchRefused = await Assert.ThrowsAsync<RpcException>(() => fetch.FetchClustersAsync(new() { Node = new() { Id = "default/local" } }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, fetchRefused.StatusCode);
    }

    [Fact]
    public async Task ASelfMadeCertificateNamingAnEdge_IsRefused()
    {
        var ca = (await TestEdge.BundleAsync(_server, "local")).GetProperty("caCertificate").GetString()!;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=default/local", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("spiffe://zenmesh/default/local"));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(CertificateAuthority.ClientAuthOid)], false));
        using var forged = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        using var usable = X509CertificateLoader.LoadPkcs12(forged.Export(X509ContentType.Pkcs12), null);
        using var impostor = TestEdge.Unenrolled(_server, ca);
        await using var envoy = impostor.Sotw("default/local", usable);
        await envoy.RequestAsync(TypeUrls.Cluster);

        var refused = await envoy.FailureAsync();
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("is not a valid edge credential of this control plane", refused.Status.Detail);
    }

    [Fact]
    public async Task AnEdgeClaimingAnotherEdgesNodeId_IsRefused()
    {
        using var edge = await TestEdge.EnrollAsync(_server, "local");
        await using var envoy = edge.Sotw("default/other");
        await envoy.RequestAsync(TypeUrls.Cluster);

        var refused = await envoy.FailureAsync();
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.StartsWith("The client certificate is the credential of edge 'default/local', but the request's node.id is 'default/other'.", refused.Status.Detail);
    }

    [Fact]
    public async Task TheToken_WorksOnce_AndNotAfterItExpires()
    {
        var bundle = await TestEdge.BundleAsync(_server, "local", """{"ttl":"1m"}""");
        var (ca, token) = (bundle.GetProperty("caCertificate").GetString()!, bundle.GetProperty("token").GetString()!);
        using var first = await TestEdge.EnrollAsync(_server, ca, token);

        var again = await Assert.ThrowsAsync<RpcException>(() => TestEdge.EnrollAsync(_server, ca, token));
        Assert.Equal(StatusCode.PermissionDenied, again.StatusCode);
        Assert.StartsWith("The enrollment token of edge 'default/local' was already used at", again.Status.Detail);

        var late = await TestEdge.BundleAsync(_server, "local", """{"ttl":"1m"}""");
        _time.Advance(TimeSpan.FromMinutes(2));
        var expired = await Assert.ThrowsAsync<RpcException>(() => TestEdge.EnrollAsync(_server, ca, late.GetProperty("token").GetString()!));
        Assert.StartsWith("The enrollment token of edge 'default/local' expired at", expired.Status.Detail);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => TestEdge.EnrollAsync(_server, ca, "zm_enroll_made_up"));
        Assert.StartsWith("The enrollment token is not known", unknown.Status.Detail);
    }

    [Fact]
    public async Task ABadCsr_IsRefusedSayingWhatIsWrong_AndTheTokenIsNotUsedUp()
    {
        var bundle = await TestEdge.BundleAsync(_server, "local");
        var (ca, token) = (bundle.GetProperty("caCertificate").GetString()!, bundle.GetProperty("token").GetString()!);
        using var edge = TestEdge.Unenrolled(_server, ca);

        var garbage = await Assert.ThrowsAsync<RpcException>(() => edge.Enrollment().EnrollAsync(new EnrollRequest { Token = token, CsrPem = "not a csr" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, garbage.StatusCode);
        Assert.StartsWith("csr_pem is not a valid PKCS#10 certificate signing request in PEM", garbage.Status.Detail);

        using var weak = RSA.Create(1024);
        var weakCsr = new CertificateRequest("CN=x", weak, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequestPem();
        var tooWeak = await Assert.ThrowsAsync<RpcException>(() => edge.Enrollment().EnrollAsync(new EnrollRequest { Token = token, CsrPem = weakCsr }).ResponseAsync);
        Assert.StartsWith("The CSR's key is too weak", tooWeak.Status.Detail);

        using var enrolled = await TestEdge.EnrollAsync(_server, ca, token);
        Assert.Equal("default/local", enrolled.Credential!.NodeId);
    }

    [Fact]
    public async Task Rotating_RevokesTheCredential_EndsItsOpenStream_AndANewBundleWorks()
    {
        using var edge = await TestEdge.EnrollAsync(_server, "local");
        await using var envoy = edge.Sotw("default/local");
        await ClustersAsync(envoy);

        var rotated = await TestEdge.BundleAsync(_server, "local", rotate: true);
        Assert.Equal(1, rotated.GetProperty("revokedCredentials").GetInt32());

        var ended = await envoy.FailureAsync();
        Assert.Equal(StatusCode.PermissionDenied, ended.StatusCode);
        Assert.StartsWith("The credential of edge 'default/local' was revoked", ended.Status.Detail);
        await using var reconnect = edge.Sotw("default/local");
        await reconnect.RequestAsync(TypeUrls.Cluster);
        var refused = await reconnect.FailureAsync();
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("was revoked at", refused.Status.Detail);

        using var renewed = await TestEdge.EnrollAsync(_server, rotated.GetProperty("caCertificate").GetString()!, rotated.GetProperty("token").GetString()!);
        await using var back = renewed.Sotw("default/local");
        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], await ClustersAsync(back));
    }

    [Fact]
    public async Task DeletingTheEdge_RevokesItsCredential()
    {
        using var edge = await TestEdge.EnrollAsync(_server, "other");
        await using var envoy = edge.Sotw("default/other");
        await ClustersAsync(envoy);

        using var deleted = await _server.Http.DeleteAsync("/api/v1/flows/gh-billing");
        using var deletedTarget = await _server.Http.DeleteAsync("/api/v1/targets/billing");
        using var deletedEdge = await _server.Http.DeleteAsync("/api/v1/edges/other");
        Assert.Equal(HttpStatusCode.NoContent, deletedEdge.StatusCode);

        Assert.Equal(StatusCode.PermissionDenied, (await envoy.FailureAsync()).StatusCode);
        using var bundle = await _server.Http.PostAsync("/api/v1/edges/other/enrollment", null);
        Assert.Equal(HttpStatusCode.NotFound, bundle.StatusCode);
        var listed = await _server.Http.GetAsync("/api/v1/edges/other/credentials");
        Assert.Equal(HttpStatusCode.NotFound, listed.StatusCode);
    }

    [Fact]
    public async Task Renewal_OverMutualTls_GivesTheSameEdgeANewCertificate()
    {
        using var edge = await TestEdge.EnrollAsync(_server, "local");
        using var newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var renewed = await edge.Enrollment().RenewAsync(new RenewRequest { CsrPem = TestEdge.Csr(newKey) }).ResponseAsync.WithTimeout("Renew");

        Assert.Equal("default/local", renewed.NodeId);
        Assert.NotEqual(edge.Credential!.Serial, renewed.Serial);
        using var stranger = TestEdge.Unenrolled(_server, edge.CaPem);
        var refused = await Assert.ThrowsAsync<RpcException>(() => stranger.Enrollment().RenewAsync(new RenewRequest { CsrPem = TestEdge.Csr(newKey) }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
    }

    [Fact]
    public async Task ClientStatus_OverMutualTls_ShowsAnEdgeOnlyItsOwnClients()
    {
        using var local = await TestEdge.EnrollAsync(_server, "local");
        using var other = await TestEdge.EnrollAsync(_server, "other");
        await using var localEnvoy = local.Sotw("default/local");
        await using var otherEnvoy = other.Sotw("default/other");
        await ClustersAsync(localEnvoy);
        await ClustersAsync(otherEnvoy);

        var csds = new ClientStatusDiscoveryService.ClientStatusDiscoveryServiceClient(local.Channel());
        var status = await csds.FetchClientStatusAsync(new ClientStatusRequest()).ResponseAsync.WithTimeout("CSDS");

        Assert.Equal(["default/local"], status.Config.Select(c => c.Node.Id));
    }

    [Fact]
    public async Task Credentials_AreListedPerEdge_AndTheLedgerRecordsIdentityEvents()
    {
        using var edge = await TestEdge.EnrollAsync(_server, "local");
        var listed = await _server.GetJsonAsync("/api/v1/edges/local/credentials");
        var credential = Assert.Single(listed.GetProperty("items").EnumerateArray());
        Assert.Equal(edge.Credential!.Serial, credential.GetProperty("serial").GetString());

        var evidence = await _server.GetJsonAsync("/api/v1/evidence?kind=identity");
        Assert.Equal(["enrollment-created", "enrolled"], evidence.GetProperty("items").EnumerateArray().Select(e => System.Text.Json.JsonDocument.Parse(e.GetProperty("detail").GetString()!).RootElement.GetProperty("action").GetString()));
    }
}
