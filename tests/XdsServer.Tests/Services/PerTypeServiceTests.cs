using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;
using Cds = Envoy.Service.Cluster.V3.ClusterDiscoveryService;
using Eds = Envoy.Service.Endpoint.V3.EndpointDiscoveryService;
using Sds = Envoy.Service.Secret.V3.SecretDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Services;

/// <summary>The non-aggregated services: the same protocol, one type each, type_url optional.</summary>
public sealed class PerTypeServiceTests : ServerTest
{
    protected override ZenMesh.Xds.Cache.Snapshot Initial => ZenMesh.Xds.Cache.Snapshot.Create([.. Mesh(clusters: [("c1", 9001), ("c2", 9002)]).Types.Values.SelectMany(t => t.Resources.Values), Secret("tls-cert")]);

    private static Node Node => new() { Id = "per-type" };

    [Fact]
    public async Task StreamClusters_WithoutTypeUrl_ServesClusters()
    {
        using var call = new Cds.ClusterDiscoveryServiceClient(Server.Channel()).StreamClusters();
        await call.RequestStream.WriteAsync(new DiscoveryRequest { Node = Node });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("a CDS response"));

        Assert.Equal(TypeUrls.Cluster, call.ResponseStream.Current.TypeUrl);
        Assert.Equal(2, call.ResponseStream.Current.Resources.Count);
    }

    [Fact]
    public async Task StreamClusters_AskingForAnotherType_IsInvalidArgument()
    {
        using var call = new Cds.ClusterDiscoveryServiceClient(Server.Channel()).StreamClusters();
        await call.RequestStream.WriteAsync(new DiscoveryRequest { Node = Node, TypeUrl = TypeUrls.Listener });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("the refusal"));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal($"This is the CDS service; it serves only '{TypeUrls.Cluster}', but the request has type_url '{TypeUrls.Listener}'. Use the aggregated (ADS) service for other types.", error.Status.Detail);
    }

    [Fact]
    public async Task DeltaEndpoints_ServesTheSubscribedNames()
    {
        using var call = new Eds.EndpointDiscoveryServiceClient(Server.Channel()).DeltaEndpoints();
        await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { Node = Node, ResourceNamesSubscribe = { "c2" } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("a delta EDS response"));

        Assert.Equal(["c2"], call.ResponseStream.Current.Resources.Select(r => r.Name));
    }

    [Fact]
    public async Task StreamSecrets_ServesSecretsByName()
    {
        using var call = new Sds.SecretDiscoveryServiceClient(Server.Channel()).StreamSecrets();
        await call.RequestStream.WriteAsync(new DiscoveryRequest { Node = Node, ResourceNames = { "tls-cert" } });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("an SDS response"));

        var secret = call.ResponseStream.Current.Resources.Single().Unpack<Envoy.Extensions.TransportSockets.Tls.V3.Secret>();
        Assert.Equal("tls-cert", secret.Name);
    }

    [Fact]
    public async Task FetchEndpoints_AnswersOnce_WithTheCurrentVersion()
    {
        var response = await new Eds.EndpointDiscoveryServiceClient(Server.Channel()).FetchEndpointsAsync(new DiscoveryRequest { Node = Node, ResourceNames = { "c1", "unknown" } }).ResponseAsync.WithTimeout("FetchEndpoints");

        Assert.Equal(2, response.Resources.Count);
        Assert.False(string.IsNullOrEmpty(response.VersionInfo));
    }
}
