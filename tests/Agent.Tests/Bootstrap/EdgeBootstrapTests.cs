using Envoy.Config.Bootstrap.V3;
using Google.Protobuf;
using ZenMesh.Agent.Bootstrap;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Sources;

namespace ZenMesh.Agent.Tests.Bootstrap;

/// <summary>envoy-config/edge-bootstrap.yaml, rendered by 'agent bootstrap', is a valid upstream Bootstrap pointed at the agent.</summary>
public sealed class EdgeBootstrapTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-bootstrap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Envoy.Config.Bootstrap.V3.Bootstrap Parse(string yaml)
    {
        var json = YamlToJson.Convert(yaml, out _)!.ToJsonString();
        return new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(EnvoyTypeRegistry.Instance)).Parse<Envoy.Config.Bootstrap.V3.Bootstrap>(json);
    }

    [Fact]
    public async Task TheRenderedBootstrap_ParsesAsUpstreamBootstrap_PointedAtTheAgentOverDeltaAds()
    {
        var file = Path.Combine(_dir, "envoy.yaml");
        var (output, error) = (new StringWriter(), new StringWriter());

        var exit = await BootstrapCommand.RunAsync(["--out", file, "--edge", "acme/edge-1", "--xds-port", "18101", "--admin-port", "9911"], output, error);

        Assert.True(exit == 0, error.ToString());
        var bootstrap = Parse(await File.ReadAllTextAsync(file));
        Assert.Equal("acme/edge-1", bootstrap.Node.Id);
        Assert.Equal(Envoy.Config.Core.V3.ApiConfigSource.Types.ApiType.DeltaGrpc, bootstrap.DynamicResources.AdsConfig.ApiType);
        Assert.Equal("zenmesh-agent", bootstrap.DynamicResources.AdsConfig.GrpcServices.Single().EnvoyGrpc.ClusterName);
        var agent = bootstrap.StaticResources.Clusters.Single(c => c.Name == "zenmesh-agent").LoadAssignment.Endpoints.Single().LbEndpoints.Single().Endpoint.Address.SocketAddress;
        Assert.Equal(("127.0.0.1", 18101u), (agent.Address, agent.PortValue));
        Assert.Equal(("127.0.0.1", 9911u), (bootstrap.Admin.Address.SocketAddress.Address, bootstrap.Admin.Address.SocketAddress.PortValue));
        Assert.Equal(TimeSpan.FromSeconds(5), bootstrap.DynamicResources.CdsConfig.InitialFetchTimeout.ToTimeSpan());
        Assert.True(bootstrap.DynamicResources.AdsConfig.SetNodeOnFirstMessageOnly);
    }

    [Fact]
    public async Task WithTheAgentInAnotherContainer_EnvoyDialsItByName()
    {
        var file = Path.Combine(_dir, "envoy.yaml");
        var (output, error) = (new StringWriter(), new StringWriter());

        var exit = await BootstrapCommand.RunAsync(["--out", file, "--edge", "acme/edge-1", "--agent-address", "zenmesh-agent", "--admin-address", "0.0.0.0"], output, error);

        Assert.True(exit == 0, error.ToString());
        var bootstrap = Parse(await File.ReadAllTextAsync(file));
        Assert.Equal("zenmesh-agent", bootstrap.StaticResources.Clusters.Single().LoadAssignment.Endpoints.Single().LbEndpoints.Single().Endpoint.Address.SocketAddress.Address);
        Assert.Equal("0.0.0.0", bootstrap.Admin.Address.SocketAddress.Address);
        Assert.Equal(2, await BootstrapCommand.RunAsync(["--out", file, "--edge", "acme/edge-1", "--agent-address", "a b"], output, error));
        Assert.Contains("--agent-address is 'a b'; use a host name or an IP address, e.g. --agent-address agent.", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAnEdgeOrOutput_SaysWhatIsMissing()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        var exit = await BootstrapCommand.RunAsync(["--state-dir", _dir, "--admin-port", "0"], output, error);

        Assert.Equal(2, exit);
        Assert.Equal(
            [
                "--out is missing: name the file to write, e.g. --out envoy.yaml.",
                $"--edge is ''; name the edge as tenant/edge (or enroll first, and it is taken from the credential in {_dir}).",
                "--admin-port is '0'; use a port from 1 to 65535.",
            ],
            error.ToString().Trim().Split(Environment.NewLine));
    }

    [Fact]
    public void APlaceholderNothingFills_IsATemplateBug()
    {
        var error = Assert.Throws<InvalidOperationException>(() => EdgeBootstrap.Render("node: { id: ${NODE_ID} }\nx: ${TYPO}", "a/b", 1, 2));
        Assert.Equal("The bootstrap template has a placeholder nothing fills: ${TYPO}. Known: NODE_ID, AGENT_XDS_ADDRESS, AGENT_XDS_PORT, ADMIN_ADDRESS, ADMIN_PORT.", error.Message);
    }
}
