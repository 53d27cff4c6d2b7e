using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Grpc.Net.Client;
using ZenMesh.Contracts.V1;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>What an agent does to become an edge: get a bundle, enroll with a CSR, connect with mutual TLS.</summary>
internal sealed class TestEdge : IDisposable
{
    private TestEdge(RunningServer server, string caPem, ECDsa key, X509Certificate2? certificate, EdgeCredentialResponse? credential)
    {
        Server = server;
        CaPem = caPem;
        Key = key;
        Certificate = certificate;
        Credential = credential;
    }

    public RunningServer Server { get; }
    public string CaPem { get; }
    public ECDsa Key { get; }
    public X509Certificate2? Certificate { get; }
    public EdgeCredentialResponse? Credential { get; }

    /// <summary>An enrollment bundle for <paramref name="edge"/>, asked for with <paramref name="api"/> (default: the operator in tenant default).</summary>
    public static async Task<JsonElement> BundleAsync(RunningServer server, string edge, string? body = null, bool rotate = false, HttpClient? api = null)
    {
        using var response = await (api ?? server.Http).PostAsync($"/api/v1/edges/{edge}/{(rotate ? "rotate" : "enrollment")}", body is null ? null : new StringContent(body, Encoding.UTF8, "application/json")).WithTimeout($"an enrollment bundle for {edge}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"enrollment of {edge}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    public static string Csr(ECDsa key, string subject = "CN=whatever the agent likes") =>
        new CertificateRequest(subject, key, HashAlgorithmName.SHA256).CreateSigningRequestPem();

    /// <summary>An edge that has not enrolled (no certificate), trusting the server's CA.</summary>
    public static TestEdge Unenrolled(RunningServer server, string caPem) => new(server, caPem, ECDsa.Create(ECCurve.NamedCurves.nistP256), null, null);

    /// <summary>Gets a bundle for <paramref name="edge"/> and enrolls with it.</summary>
    public static async Task<TestEdge> EnrollAsync(RunningServer server, string edge, HttpClient? api = null)
    {
        var bundle = await BundleAsync(server, edge, api: api);
        return await EnrollAsync(server, bundle.GetProperty("caCertificate").GetString()!, bundle.GetProperty("token").GetString()!);
    }

    public static async Task<TestEdge> EnrollAsync(RunningServer server, string caPem, string token)
    {
        var edge = Unenrolled(server, caPem);
        var credential = await edge.Enrollment().EnrollAsync(new EnrollRequest { Token = token, CsrPem = Csr(edge.Key) }).ResponseAsync.WithTimeout("Enroll");
        return edge.With(credential);
    }

    /// <summary>The same edge (key and credential) talking to another replica.</summary>
    public TestEdge On(RunningServer server) => new(server, CaPem, Key, Certificate, Credential);

    public TestEdge With(EdgeCredentialResponse credential)
    {
        using var certificate = X509Certificate2.CreateFromPem(credential.CertificatePem);
        using var withKey = certificate.CopyWithPrivateKey(Key);
        var usable = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        return new TestEdge(Server, CaPem, Key, usable, credential);
    }

    /// <summary>A channel that trusts only the control plane's CA and presents this edge's certificate, if any.</summary>
    public GrpcChannel Channel(X509Certificate2? presenting = null)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        var ca = X509Certificate2.CreateFromPem(CaPem);
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
        {
            if (presented is null)
            {
                return false;
            }
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(new X509Certificate2(presented));
        };
        if ((presenting ?? Certificate) is { } certificate)
        {
            handler.SslOptions.ClientCertificates = [certificate];
        }
        return Server.Channel(handler);
    }

    public EdgeEnrollment.EdgeEnrollmentClient Enrollment(X509Certificate2? presenting = null) => new(Channel(presenting));

    public FakeSotwClient Sotw(string nodeId, X509Certificate2? presenting = null) => new(Channel(presenting), nodeId);

    public FakeDeltaClient Delta(string nodeId) => new(Channel(), nodeId);

    public void Dispose()
    {
        Certificate?.Dispose();
        Key.Dispose();
    }
}
