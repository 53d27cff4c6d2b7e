using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using ZenMesh.XdsServer.Hosting;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;

namespace ZenMesh.XdsServer.Tests.Hosting;

public sealed class AdmissionAndTlsTests
{
    [Fact]
    public async Task StreamsBeyondMaxStreams_AreRefusedWithResourceExhausted_AndAdmittedAgainOnceOneCloses()
    {
        await using var server = await RunningServer.StartAsync("--Xds:Limits:MaxStreams", "1");
        server.Publish(Mesh());
        var first = server.Sotw("first");
        await first.RequestAsync(TypeUrls.Cluster);
        await first.ReceiveAsync(TypeUrls.Cluster);

        await using var second = server.Sotw("second");
        await second.RequestAsync(TypeUrls.Cluster);
        var error = await second.FailureAsync();
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("This xDS server is at its limit of 1 streams (Xds:Limits:MaxStreams). Retry with backoff, or connect to another replica.", error.Status.Detail);

        await first.CloseAsync();
        await first.DisposeAsync();
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/healthz")).GetProperty("streams").GetInt32() == 0, "the first stream is released");
        await using var third = server.Sotw("third");
        await third.RequestAsync(TypeUrls.Cluster);
        await third.ReceiveAsync(TypeUrls.Cluster);
    }

    [Fact]
    public async Task Stopping_EndsOpenStreamsWithUnavailable_AtOnce()
    {
        var server = await RunningServer.StartAsync();
        server.Publish(Mesh());
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(server.AdsUri);
        await using var client = new FakeSotwClient(channel, "held-open");
        await client.RequestAsync(TypeUrls.Cluster);
        await client.ReceiveAsync(TypeUrls.Cluster);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {clock.Elapsed.TotalSeconds:0.0} s with a stream open");
        var ended = await client.FailureAsync();
        // The status says why, unless the connection closed before the trailers got out (seen under load).
        Assert.True(ended.StatusCode is StatusCode.Unavailable or StatusCode.Internal, $"{ended.StatusCode}: {ended.Status.Detail}");
        if (ended.StatusCode == StatusCode.Unavailable)
        {
            Assert.StartsWith("This xDS server is shutting down.", ended.Status.Detail);
        }
    }

    [Fact]
    public void Build_InvalidOptions_ListsEveryProblem()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            XdsServerApp.Build(["--ads-port", "70000", "--bind", "localhost", "--Xds:TlsCertificateFile", "cert.pem"]));

        Assert.Equal(
        [
            "Xds:BindAddress 'localhost' is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0.",
            "Xds:AdsPort (--ads-port) 70000 is not a port; use 0-65535 (0 picks a free one).",
            "Set both Xds:TlsCertificateFile and Xds:TlsKeyFile (PEM) to serve ADS over TLS, or neither.",
        ], error.Failures);
    }

    [Fact]
    public void Build_CleartextXdsBeyondLoopback_IsRefusedUnlessAllowed()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => XdsServerApp.Build(["--bind", "0.0.0.0", "--data-dir", Directory.CreateTempSubdirectory("zenmesh-bind-").FullName]));
        Assert.Equal(
        [
            "Xds:BindAddress 0.0.0.0 would expose cleartext xDS, which trusts any node id, beyond this machine. Turn on mutual TLS (--tls), or set Xds:AllowInsecureRemote=true for a network you trust.",
            "Xds:BindAddress 0.0.0.0 would expose the Flow API, whose bearer tokens grant control of the mesh, in cleartext beyond this machine. Serve it over TLS (--http-tls, or Xds:HttpTlsCertificateFile and Xds:HttpTlsKeyFile), or set Xds:AllowInsecureHttp=true behind a proxy that terminates TLS.",
        ], error.Failures);
    }

    [Fact]
    public void Build_TlsOnBothPortsBeyondLoopback_IsAccepted()
    {
        using var app = XdsServerApp.Build(["--bind", "0.0.0.0", "--tls", "--http-tls", "--ads-port", "0", "--http-port", "0", "--data-dir", Directory.CreateTempSubdirectory("zenmesh-bind-").FullName]);
        Assert.NotNull(app);
    }

    [Theory]
    [InlineData("change-me-admin-token", "Xds:AdminToken (ZENMESH_ADMIN_TOKEN) is 21 characters of 13 different ones; the operator's token must be long and random: at least 32 characters, e.g. $(openssl rand -hex 32). Or leave it unset, and the first start writes a random one to <data-dir>/admin-token.")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "Xds:AdminToken (ZENMESH_ADMIN_TOKEN) is 40 characters of 1 different ones; the operator's token must be long and random: at least 32 characters, e.g. $(openssl rand -hex 32). Or leave it unset, and the first start writes a random one to <data-dir>/admin-token.")]
    public void Build_AShortOrRepetitiveOperatorToken_IsRefused(string token, string expected)
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => XdsServerApp.Build(["--Xds:AdminToken", token, "--data-dir", Directory.CreateTempSubdirectory("zenmesh-token-").FullName]));
        Assert.Equal([expected], error.Failures);
    }

    [Fact]
    public async Task HttpTls_ServesTheFlowApiOverTls_WithACertificateTheCaSigned()
    {
        var dataDir = Directory.CreateTempSubdirectory("zenmesh-http-tls-").FullName;
        await using var server = await RunningServer.StartAsync("--http-tls", "--data-dir", dataDir);
        Assert.Equal("https", server.HttpUri.Scheme);
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dataDir, "ca", "ca.crt")));
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, _) =>
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return presented is not null && chain.Build(presented);
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = server.HttpUri };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RunningServer.AdminToken);

        using var response = await client.GetAsync("/api/v1/edges").WithTimeout("the Flow API over TLS");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Ads_WithACertificateConfigured_IsServedOverTls_ToEnrolledEdges()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        var dir = Directory.CreateTempSubdirectory("zenmesh-tls-");
        var certFile = Path.Combine(dir.FullName, "cert.pem");
        var keyFile = Path.Combine(dir.FullName, "key.pem");
        await File.WriteAllTextAsync(certFile, cert.ExportCertificatePem());
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        try
        {
            await using var server = await RunningServer.StartAsync("--Xds:TlsCertificateFile", certFile, "--Xds:TlsKeyFile", keyFile);
            server.Publish(Mesh());
            Assert.Equal("https", server.AdsUri.Scheme);
            using var put = await server.Http.PutAsync("/api/v1/edges/tls-edge", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
            var bundle = await TestEdge.BundleAsync(server, "tls-edge");
            // The server presents the operator's certificate, and the bundle says to trust that one.
            Assert.Equal(cert.ExportCertificatePem(), bundle.GetProperty("caCertificate").GetString());
            using var edge = await TestEdge.EnrollAsync(server, bundle.GetProperty("caCertificate").GetString()!, bundle.GetProperty("token").GetString()!);
            await using var client = edge.Sotw("default/tls-edge");
            await client.RequestAsync(TypeUrls.Cluster);
            var response = await client.ReceiveAsync(TypeUrls.Cluster);
            // Its own (compiled, still empty) config: not the file's, which nodes without an edge get.
            Assert.Empty(FakeSotwClient.Names(response));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
