using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf;
using Grpc.Net.Client;
using ZenMesh.Agent.Bootstrap;
using ZenMesh.Agent.Identity;
using ZenMesh.Agent.Tests.Infrastructure;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Sources;

namespace ZenMesh.Agent.Tests.Bootstrap;

/// <summary>
/// envoy-config/data-plane-bootstrap.yaml, rendered by 'agent bootstrap --direct' from an enrolled
/// state directory, is a valid upstream Bootstrap whose mutual TLS settings (the credential files,
/// the trusted CA, the name the server must present) are accepted by the real control plane.
/// </summary>
public sealed class DataPlaneBootstrapTests : IAsyncLifetime
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-dp-bootstrap-").FullName;
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync("--tls");
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders"}"""));
        using var response = await _server.Http.PostAsync("/api/v1/edges/local/enrollment", null);
        var bundle = Path.Combine(_stateDir, "bundle.json");
        await File.WriteAllTextAsync(bundle, await response.Content.ReadAsStringAsync());
        Assert.Equal(0, await EnrollCommand.RunAsync(bundle, _stateDir, TextWriter.Null, TextWriter.Null));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_stateDir, recursive: true);
    }

    private static Envoy.Config.Bootstrap.V3.Bootstrap Parse(string yaml) =>
        new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(EnvoyTypeRegistry.Instance)).Parse<Envoy.Config.Bootstrap.V3.Bootstrap>(YamlToJson.Convert(yaml, out _)!.ToJsonString());

    private async Task<(int Exit, string Output, string Error)> BootstrapAsync(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await BootstrapCommand.RunAsync(["--direct", "--state-dir", _stateDir, .. args], output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task TheRenderedBootstrap_ReachesTheControlPlaneOverMutualTls_WithTheEnrolledCredential()
    {
        var file = Path.Combine(_stateDir, "envoy.yaml");

        var (exit, output, error) = await BootstrapAsync("--out", file);

        Assert.True(exit == 0, error);
        Assert.Contains($"straight to the control plane at {_server.AdsUri}", output, StringComparison.Ordinal);
        var bootstrap = Parse(await File.ReadAllTextAsync(file));
        Assert.Equal("default/local", bootstrap.Node.Id);
        Assert.Equal(Envoy.Config.Core.V3.ApiConfigSource.Types.ApiType.DeltaGrpc, bootstrap.DynamicResources.AdsConfig.ApiType);
        var cluster = bootstrap.StaticResources.Clusters.Single();
        Assert.Equal(cluster.Name, bootstrap.DynamicResources.AdsConfig.GrpcServices.Single().EnvoyGrpc.ClusterName);
        var address = cluster.LoadAssignment.Endpoints.Single().LbEndpoints.Single().Endpoint.Address.SocketAddress;
        Assert.Equal((_server.AdsUri.Host, (uint)_server.AdsUri.Port), (address.Address, address.PortValue));
        var tls = cluster.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>().CommonTlsContext;
        Assert.Equal(["h2"], tls.AlpnProtocols);

        // Dial the control plane the way the bootstrap tells Envoy to: its client certificate, its
        // trusted CA, and the server name it must match.
        var pair = tls.TlsCertificates.Single();
        Assert.Equal(CredentialFiles.Directory(Path.GetFullPath(_stateDir)), pair.WatchedDirectory.Path);
        using var clientCertificate = X509Certificate2.CreateFromPemFile(pair.CertificateChain.Filename, pair.PrivateKey.Filename);
        using var trusted = X509CertificateLoader.LoadCertificateFromFile(tls.ValidationContext.TrustedCa.Filename);
        var san = tls.ValidationContext.MatchTypedSubjectAltNames.Single();
        Assert.Equal(SubjectAltNameMatcher.Types.SanType.IpAddress, san.SanType);
        using var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [X509CertificateLoader.LoadPkcs12(clientCertificate.Export(X509ContentType.Pkcs12), null)],
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is X509Certificate2 server && ChainsTo(server, trusted) && NamesIp(server, san.Matcher.Exact),
            },
        };
        using var channel = GrpcChannel.ForAddress($"https://{address.Address}:{address.PortValue}", new GrpcChannelOptions { HttpHandler = handler });
        await using var envoy = new FakeDeltaClient(channel, bootstrap.Node.Id);
        await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], FakeDeltaClient.Names(await envoy.ReceiveAsync(TypeUrls.Cluster)));
    }

    private static bool ChainsTo(X509Certificate2 server, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server);
    }

    private static bool NamesIp(X509Certificate2 server, string ip) =>
        server.Extensions.OfType<X509SubjectAlternativeNameExtension>().Any(e => e.EnumerateIPAddresses().Contains(IPAddress.Parse(ip)));

    [Fact]
    public async Task WithoutMutualTlsOrACredential_SaysWhatIsMissing()
    {
        var empty = Directory.CreateTempSubdirectory("zenmesh-dp-empty-").FullName;
        try
        {
            var (output, error) = (new StringWriter(), new StringWriter());
            var exit = await BootstrapCommand.RunAsync(["--direct", "--state-dir", empty, "--out", Path.Combine(empty, "envoy.yaml")], output, error);
            Assert.Equal(2, exit);
            Assert.Equal(
                [
                    $"--edge is ''; name the edge as tenant/edge (or enroll first, and it is taken from the credential in {empty}).",
                    $"--control-plane is missing: name the control plane's xDS address, e.g. --control-plane https://zenmesh-xds:18000 (or enroll first, and it is taken from the credential in {empty}).",
                ],
                error.ToString().Trim().Split(Environment.NewLine));

            var (plainExit, _, plainError) = await BootstrapAsync("--out", Path.Combine(empty, "envoy.yaml"), "--control-plane", "http://127.0.0.1:18000");
            Assert.Equal(2, plainExit);
            Assert.Equal("--control-plane is 'http://127.0.0.1:18000'; an Envoy without an agent needs mutual TLS, so use the control plane's https:// xDS address, e.g. https://zenmesh-xds:18000.", plainError.Trim());
            Assert.False(File.Exists(Path.Combine(empty, "envoy.yaml")));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
