using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Agent.Identity;
using ZenMesh.Agent.Tests.Infrastructure;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Agent.Tests.Identity;

/// <summary>
/// "agent enroll" turns a bundle into the edge's credential; "agent run" then relays over mutual
/// TLS, renews the credential in time, and is refused by the control plane when it is not enrolled
/// or claims another edge.
/// </summary>
public sealed class AgentEnrollmentTests : IAsyncLifetime
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-id-").FullName;
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync("--tls", "--Xds:CredentialLifetime", "01:00:00");
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("edges/other", """{"mode":"vm"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
            ("flows/gh-orders", """{"endpoint":"gh","target":"orders"}"""));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_stateDir, recursive: true);
    }

    private async Task<string> BundleFileAsync(string edge)
    {
        using var response = await _server.Http.PostAsync($"/api/v1/edges/{edge}/enrollment", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var file = Path.Combine(_stateDir, $"bundle-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, text);
        return file;
    }

    private async Task<(int Code, string Output, string Error)> EnrollAsync(string bundle)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var code = await EnrollCommand.RunAsync(bundle, _stateDir, output, error).WithTimeout("agent enroll");
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Enroll_ThenRun_RelaysTheEdgesConfigOverMutualTls()
    {
        var (code, output, error) = await EnrollAsync(await BundleFileAsync("local"));

        Assert.True(code == 0, error);
        Assert.StartsWith("Enrolled as edge 'default/local'", output);
        var key = Path.Combine(_stateDir, "credential", "edge.key");
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
        // What the edge's ingester and egress need to recognise each other over mutual TLS.
        var peers = new ZenMesh.Secrets.EdgePeerTrust(Path.Combine(_stateDir, "credential"));
        Assert.Null(peers.Problem());
        Assert.Equal("default/local", peers.Current().NodeId);
        Assert.True(peers.IsPeer(peers.Current().Certificate));
        Assert.Contains(peers.Current().Certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>(), o => o.Value == "1.3.6.1.5.5.7.3.1");
        await using var agent = await RunningAgent.StartAsync(null, _stateDir);
        await using var envoy = agent.Delta();
        await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], FakeDeltaClient.Names(await envoy.ReceiveAsync(TypeUrls.Cluster)));
        var status = await agent.StatusAsync();
        Assert.Equal("default/local", status.GetProperty("edge").GetString());
        Assert.StartsWith("https://127.0.0.1:", status.GetProperty("controlPlane").GetProperty("address").GetString());
    }

    [Fact]
    public async Task Enroll_TwiceWithOneBundle_IsRefusedSayingTheTokenWasUsed()
    {
        var bundle = await BundleFileAsync("local");
        Assert.Equal(0, (await EnrollAsync(bundle)).Code);

        var (code, _, error) = await EnrollAsync(bundle);

        Assert.Equal(1, code);
        Assert.StartsWith("The control plane refused the enrollment: The enrollment token of edge 'default/local' was already used at", error);
    }

    [Fact]
    public async Task Enroll_WithABadBundle_SaysWhatIsWrong()
    {
        var missing = await EnrollAsync(Path.Combine(_stateDir, "nope.json"));
        Assert.Equal(2, missing.Code);
        Assert.StartsWith($"No bundle file '{Path.Combine(_stateDir, "nope.json")}'.", missing.Error);

        var partial = Path.Combine(_stateDir, "partial.json");
        await File.WriteAllTextAsync(partial, """{"edge":"default/local","controlPlane":"https://127.0.0.1:1"}""");
        var incomplete = await EnrollAsync(partial);
        Assert.Equal(2, incomplete.Code);
        Assert.Equal($"The bundle '{partial}' lacks caCertificate, token, expiresAt; use the file the control plane returned, unchanged.", incomplete.Error.Trim());
    }

    [Fact]
    public async Task AnUnenrolledAgent_AgainstAMutualTlsControlPlane_SaysToEnroll()
    {
        await using var agent = await RunningAgent.StartAsync(_server.AdsUri.ToString(), _stateDir);

        await TestTimeouts.Eventually(async () => (await agent.StatusAsync()).GetProperty("controlPlane").GetProperty("lastError").GetString()?.Contains("Enroll first: agent enroll --bundle", StringComparison.Ordinal) == true, "the agent to say it must enroll");
        Assert.False((await agent.StatusAsync()).GetProperty("controlPlane").GetProperty("reachable").GetBoolean());
    }

    [Fact]
    public async Task AnAgentClaimingAnotherEdge_IsRefusedByTheControlPlane()
    {
        Assert.Equal(0, (await EnrollAsync(await BundleFileAsync("local"))).Code);
        // A tampered state directory: the certificate is local's, the claimed node id is other's.
        var meta = Path.Combine(_stateDir, "credential", "edge.json");
        await File.WriteAllTextAsync(meta, (await File.ReadAllTextAsync(meta)).Replace("default/local", "default/other", StringComparison.Ordinal));

        await using var agent = await RunningAgent.StartAsync(null, _stateDir);

        await TestTimeouts.Eventually(async () => (await agent.StatusAsync()).GetProperty("controlPlane").GetProperty("lastError").GetString()?.StartsWith("PermissionDenied: The client certificate is the credential of edge 'default/local', but the request's node.id is 'default/other'.", StringComparison.Ordinal) == true, "the control plane to refuse the claim");
    }

    [Fact]
    public async Task TheCredential_IsRenewedTwoThirdsIntoItsLife()
    {
        Assert.Equal(0, (await EnrollAsync(await BundleFileAsync("local"))).Code);
        var first = CredentialFiles.Load(_stateDir)!;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var agent = await RunningAgent.StartAsync(null, _stateDir, clock);
        await using var envoy = agent.Delta();
        await envoy.SubscribeAsync(TypeUrls.Cluster, "*");
        await envoy.ReceiveAsync(TypeUrls.Cluster);

        clock.Advance(first.RenewAt - clock.GetUtcNow() + TimeSpan.FromSeconds(1));

        await TestTimeouts.Eventually(async () => (await agent.StatusAsync()).GetProperty("credential").GetProperty("serial").GetString() != first.Serial, "the agent to renew its credential");
        var renewed = CredentialFiles.Load(_stateDir)!;
        Assert.NotEqual(first.Serial, renewed.Serial);
        Assert.Equal("default/local", renewed.NodeId);
        var credentials = await _server.GetJsonAsync("/api/v1/edges/local/credentials");
        Assert.Equal(2, credentials.GetProperty("items").GetArrayLength());
    }
}
