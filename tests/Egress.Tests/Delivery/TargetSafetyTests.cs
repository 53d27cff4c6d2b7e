using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Delivery;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Delivery;

/// <summary>
/// What the egress checks at delivery time, after DNS: a target that resolves to the edge's own
/// host without allowLoopback, or to a metadata address, is not connected to (a name checked by the
/// control plane can resolve anywhere later); an https target's certificate is verified, against the
/// target's own CA when it names one, and skipped only when the flow says so.
/// </summary>
public sealed class TargetSafetyTests
{
    [Fact]
    public async Task ANameResolvingToLoopback_WithoutAllowLoopback_IsNotConnectedTo()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        var flow = Mesh.Flow("sneaky", new UriBuilder(target.Url) { Host = "localhost" }.Uri);
        flow.TargetAllowLoopback = false;
        await using var mesh = await Mesh.StartAsync(flow);

        var eventId = await mesh.SendAsync();
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{eventId}/sneaky", CancellationToken.None))?.Attempts >= 1, "an attempt");

        var attempt = (await mesh.Store.AttemptsAsync($"{eventId}/sneaky", CancellationToken.None))[0];
        Assert.Empty(target.Requests);
        Assert.Equal(Faults.Target, attempt.Fault);
        Assert.Contains("resolves only to addresses no target may have", attempt.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMetadataAddress_IsNeverConnectedTo_ThroughEnvoyEither()
    {
        await using var envoy = await TestTarget.StartAsync(TestTarget.Status(200));
        var flow = Mesh.Flow("metadata", new Uri("http://169.254.169.254/latest/meta-data/"));
        await using var mesh = await Mesh.StartAsync(envoy.Url, flow);

        var eventId = await mesh.SendAsync();
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{eventId}/metadata", CancellationToken.None))?.Attempts >= 1, "an attempt");

        Assert.Empty(envoy.Requests);
        var attempt = (await mesh.Store.AttemptsAsync($"{eventId}/metadata", CancellationToken.None))[0];
        Assert.Contains("link-local or cloud-metadata", attempt.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThroughEnvoy_TheAddressTheEgressChecked_IsTheOneEnvoyIsToldToConnectTo()
    {
        // Envoy would resolve a name again, and a rebinding DNS server can answer it differently
        // than it answered the egress: so the egress names the address it checked, and the
        // compiled cluster (ORIGINAL_DST by that header) connects there and nowhere else.
        await using var envoy = await TestTarget.StartAsync(TestTarget.Status(200));
        var flow = Mesh.Flow("by-name", new Uri("http://localhost:9/hooks"));
        flow.TargetAllowLoopback = true;
        await using var mesh = await Mesh.StartAsync(envoy.Url, flow);

        var eventId = await mesh.SendAsync();
        await mesh.WaitForAsync(eventId, "by-name", DeliveryStates.Delivered);

        var sent = Assert.Single(envoy.Requests);
        Assert.True(sent.Headers.TryGetValue(EnvoyHeaders.TargetAddress, out var pinned), "no target address header");
        var address = IPEndPoint.Parse(pinned!);
        Assert.True(IPAddress.IsLoopback(address.Address), pinned);
        Assert.Equal(9, address.Port);
    }

    [Fact]
    public async Task ThroughEnvoy_ANameThatDoesNotResolve_IsNotSent_AndTheAttemptSaysWhy()
    {
        await using var envoy = await TestTarget.StartAsync(TestTarget.Status(200));
        var flow = Mesh.Flow("nowhere", new Uri("http://orders.invalid/hooks"));
        await using var mesh = await Mesh.StartAsync(envoy.Url, flow);

        var eventId = await mesh.SendAsync();
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{eventId}/nowhere", CancellationToken.None))?.Attempts >= 1, "an attempt");

        Assert.Empty(envoy.Requests);
        var attempt = (await mesh.Store.AttemptsAsync($"{eventId}/nowhere", CancellationToken.None))[0];
        Assert.Equal((AttemptOutcomes.NotSent, Faults.Target), (attempt.Outcome, attempt.Fault));
        Assert.Contains("orders.invalid did not resolve", attempt.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnHttpsTarget_IsVerified_AgainstItsOwnCa_OrNotAtAll_OnlyWhenTheFlowSaysSo()
    {
        using var ca = Ca("CN=orders test CA");
        using var leaf = Leaf(ca, "127.0.0.1");
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200), leaf);
        var untrusted = Mesh.Flow("untrusted", target.Url);
        var pinned = Mesh.Flow("pinned", target.Url);
        pinned.TargetCaSecretRef = "orders-ca";
        var insecure = Mesh.Flow("insecure", target.Url);
        insecure.TargetTlsInsecure = true;
        await using var mesh = await Mesh.StartAsync(untrusted, pinned, insecure);
        await File.WriteAllTextAsync(Path.Combine(mesh.SecretsDir, "orders-ca"), ca.ExportCertificatePem());

        var eventId = await mesh.SendAsync();

        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{eventId}/pinned", CancellationToken.None))?.Attempts >= 1, "the pinned attempt");
        var first = (await mesh.Store.AttemptsAsync($"{eventId}/pinned", CancellationToken.None))[0];
        Assert.True(first.Outcome == AttemptOutcomes.Delivered, first.Detail);
        Assert.Equal(200, (await mesh.WaitForAsync(eventId, "pinned", DeliveryStates.Delivered)).LastStatus);
        Assert.Equal(200, (await mesh.WaitForAsync(eventId, "insecure", DeliveryStates.Delivered)).LastStatus);
        await TestTimeouts.Eventually(async () => (await mesh.Store.GetAsync($"{eventId}/untrusted", CancellationToken.None))?.Attempts >= 1, "the untrusted attempt");
        var refused = (await mesh.Store.AttemptsAsync($"{eventId}/untrusted", CancellationToken.None))[0];
        Assert.Equal(AttemptOutcomes.Failed, refused.Outcome);
        Assert.Contains("SSL", refused.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(2, target.Requests.Count);
    }

    private static X509Certificate2 Ca(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Leaf(X509Certificate2 ca, string ip)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=orders", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Parse(ip));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-4), DateTimeOffset.UtcNow.AddHours(1), RandomNumberGenerator.GetBytes(8));
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}
