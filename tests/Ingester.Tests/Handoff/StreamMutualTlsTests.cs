using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Handoff;

/// <summary>
/// With an enrolled edge, the job stream is mutual TLS with the edge's own credential: only a
/// process holding this edge's certificate (its egress) takes jobs; no certificate, another edge's,
/// or one from another CA is refused in the handshake, before a job moves.
/// </summary>
public sealed class StreamMutualTlsTests : IAsyncLifetime, IDisposable
{
    private readonly TestCredentials _credentials = new();
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-stream-mtls-").FullName;
    private string _edge = null!;
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        _edge = _credentials.Directory("default/local");
        _app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9", "--stream-credential", _edge], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        _app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy
        {
            Tenant = "default", Endpoint = "orders", Provider = "none",
            Flows = { new FlowRoute { Flow = "to-billing", EventTypes = { "*" }, Enabled = true } },
        }]);
        await _app.StartAsync();
        using var http = new HttpClient { BaseAddress = IngesterPorts.Hooks(_app) };
        using var posted = await http.PostAsync("/hooks/default/orders", new StringContent("""{"id":"1"}""", Encoding.UTF8, "application/json"));
        posted.EnsureSuccessStatusCode();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    public void Dispose() => _credentials.Dispose();

    private GrpcChannel Channel(string? credentialDir)
    {
        var handler = new SocketsHttpHandler();
        var issuer = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(_edge, "issuer.crt")));
        handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(issuer);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return presented is not null && chain.Build(new X509Certificate2(presented));
        };
        if (credentialDir is not null)
        {
            using var pem = X509Certificate2.CreateFromPemFile(Path.Combine(credentialDir, "edge.crt"), Path.Combine(credentialDir, "edge.key"));
            handler.SslOptions.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }
        return GrpcChannel.ForAddress(IngesterPorts.Stream(_app), new GrpcChannelOptions { HttpHandler = handler });
    }

    private static async Task<DeliveryJob> FirstJobAsync(GrpcChannel channel)
    {
        using var call = new Events.EventsClient(channel).Subscribe();
        await call.RequestStream.WriteAsync(new SubscribeRequest { Subscription = new Subscription { Consumer = "test", MaxUnacked = 10, Lease = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)) } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("a job"));
        return call.ResponseStream.Current;
    }

    [Fact]
    public async Task TheEdgesOwnCertificate_TakesJobs_WithoutTheSharedSecret()
    {
        using var channel = Channel(_edge);

        var job = await FirstJobAsync(channel);

        Assert.Equal("to-billing", job.Flow);
        Assert.Equal("https", IngesterPorts.Stream(_app).Scheme);
    }

    [Fact]
    public async Task NoCertificate_AnotherEdgesCertificate_OrAnotherCasCertificate_IsRefused()
    {
        using var other = new TestCredentials();
        foreach (var (who, dir) in new[] { ("no certificate", (string?)null), ("edge default/other", _credentials.Directory("default/other")), ("another CA's default/local", _credentials.Directory("default/local", other)) })
        {
            using var channel = Channel(dir);
            // The ingester ends the handshake: the call fails before any job (an RPC or a connection error, as the client sees it).
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => FirstJobAsync(channel));
            Assert.True(refused is RpcException or HttpRequestException or IOException, $"{who}: {refused}");
            Assert.DoesNotContain("remote certificate is invalid", refused.ToString(), StringComparison.OrdinalIgnoreCase);
        }
    }
}
