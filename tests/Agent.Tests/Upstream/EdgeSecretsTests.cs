using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Envoy.Extensions.TransportSockets.Tls.V3;
using ZenMesh.Agent.Tests.Infrastructure;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Agent.Tests.Upstream;

/// <summary>
/// A target's CA and client certificate are edge secrets: the control plane names them in the
/// compiled cluster, and the agent serves them to its Envoy over SDS from the edge's secrets
/// directory, without ever sending them upstream or writing them into its last-known-good files.
/// </summary>
public sealed class EdgeSecretsTests : IAsyncLifetime
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-sds-").FullName;
    private readonly string _secretsDir = Directory.CreateTempSubdirectory("zenmesh-agent-sds-secrets-").FullName;
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("targets/orders", """{"edge":"local","url":"https://orders.internal/hooks","tls":{"caSecretRef":"orders-ca","clientCertificateSecretRef":"orders-client"}}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders"}"""));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task TheTargetsCa_AndClientCertificate_AreServedOverSds_FromTheSecretsDirectory_AndStoredNowhere()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = new CertificateRequest("CN=orders CA", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        var caPem = ca.ExportCertificatePem();
        var clientPem = ca.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem();
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "orders-ca"), caPem);
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "orders-client"), clientPem);
        await using var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir, _time, "--secrets-dir", _secretsDir);
        await using var envoy = agent.Sotw();

        await envoy.RequestAsync(TypeUrls.Cluster);
        var clusters = await envoy.ReceiveAsync(TypeUrls.Cluster);
        while (!FakeSotwClient.Names(clusters).Contains("flow-gh-orders"))
        {
            // The relay may answer from an empty cache first; the edge's config follows.
            await envoy.AckAsync(clusters);
            clusters = await envoy.ReceiveAsync(TypeUrls.Cluster);
        }
        await envoy.AckAsync(clusters);
        var cluster = clusters.Resources.Select(r => r.Unpack<Envoy.Config.Cluster.V3.Cluster>()).Single(c => c.Name == "flow-gh-orders");
        var tls = cluster.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>().CommonTlsContext;
        Assert.Equal("orders-ca", tls.CombinedValidationContext.ValidationContextSdsSecretConfig.Name);
        await envoy.RequestAsync(TypeUrls.Secret, "orders-ca", "orders-client");
        var secretsResponse = await envoy.ReceiveAsync(TypeUrls.Secret);
        await envoy.AckAsync(secretsResponse, "orders-ca", "orders-client");
        var secrets = secretsResponse.Resources.Select(r => r.Unpack<Secret>()).ToDictionary(s => s.Name);

        Assert.Equal(caPem, secrets["orders-ca"].ValidationContext.TrustedCa.InlineString);
        Assert.Equal(ca.ExportCertificatePem(), secrets["orders-client"].TlsCertificate.CertificateChain.InlineString.Trim());
        Assert.Equal(key.ExportPkcs8PrivateKeyPem(), secrets["orders-client"].TlsCertificate.PrivateKey.InlineString.Trim());
        // A rotated CA is served without a restart or a change upstream.
        using var rotated = new CertificateRequest("CN=orders CA rotated", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(2));
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "orders-ca"), rotated.ExportCertificatePem());
        _time.Advance(TimeSpan.FromSeconds(5));
        var next = await envoy.ReceiveAsync(TypeUrls.Secret);
        Assert.Equal(rotated.ExportCertificatePem(), next.Resources.Select(r => r.Unpack<Secret>()).Single(s => s.Name == "orders-ca").ValidationContext.TrustedCa.InlineString);
        foreach (var file in Directory.EnumerateFiles(_stateDir, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain("PRIVATE KEY", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
            Assert.DoesNotContain(caPem.Split('\n')[1], await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
    }
}
