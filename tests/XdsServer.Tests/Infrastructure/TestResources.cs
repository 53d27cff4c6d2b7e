using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Google.Protobuf.WellKnownTypes;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>Small, valid Envoy resources for tests.</summary>
internal static class TestResources
{
    public static XdsResource Cluster(string name, int connectTimeoutMs = 1000) => XdsResource.Create(new Cluster
    {
        Name = name,
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
        ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(connectTimeoutMs)),
        EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig { EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 } },
    });

    public static XdsResource Endpoints(string cluster, params int[] ports)
    {
        var assignment = new ClusterLoadAssignment { ClusterName = cluster };
        var locality = new LocalityLbEndpoints { LoadBalancingWeight = 1, Locality = new Locality { Region = "test" } };
        foreach (var port in ports)
        {
            locality.LbEndpoints.Add(new LbEndpoint { Endpoint = new Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = "127.0.0.1", PortValue = (uint)port } } } });
        }
        assignment.Endpoints.Add(locality);
        return XdsResource.Create(assignment);
    }

    public static XdsResource Listener(string name, string routeName, string? statPrefix = null)
    {
        var hcm = new HttpConnectionManager
        {
            StatPrefix = statPrefix ?? name,
            Rds = new Rds { RouteConfigName = routeName, ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 } },
        };
        hcm.HttpFilters.Add(new HttpFilter { Name = "envoy.filters.http.router", TypedConfig = Any.Pack(new Router()) });
        return XdsResource.Create(new Listener { Name = name, ApiListener = new ApiListener { ApiListener_ = Any.Pack(hcm) } });
    }

    public static XdsResource Route(string name, string cluster)
    {
        var host = new VirtualHost { Name = name, Domains = { "*" } };
        host.Routes.Add(new Route { Match = new RouteMatch { Prefix = "" }, Route_ = new RouteAction { Cluster = cluster } });
        return XdsResource.Create(new RouteConfiguration { Name = name, VirtualHosts = { host } });
    }

    public static XdsResource Secret(string name) => XdsResource.Create(new Secret { Name = name, GenericSecret = new GenericSecret { Secret = new DataSource { InlineString = "not-a-real-secret" } } });

    /// <summary>A consistent snapshot: listener -> route -> clusters -> endpoints.</summary>
    public static Snapshot Mesh(string listener = "app", string route = "app-routes", params (string Cluster, int Port)[] clusters)
    {
        if (clusters.Length == 0)
        {
            clusters = [("c1", 9001)];
        }
        var resources = new List<XdsResource> { Listener(listener, route), Route(route, clusters[0].Cluster) };
        foreach (var (cluster, port) in clusters)
        {
            resources.Add(Cluster(cluster));
            resources.Add(Endpoints(cluster, port));
        }
        return Snapshot.Create(resources);
    }
}
