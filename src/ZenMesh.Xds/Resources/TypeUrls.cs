namespace ZenMesh.Xds.Resources;

/// <summary>The resource types this server serves, and the order in which they are pushed.</summary>
public static class TypeUrls
{
    public const string Prefix = "type.googleapis.com/";
    public const string Cluster = Prefix + "envoy.config.cluster.v3.Cluster";
    public const string Endpoint = Prefix + "envoy.config.endpoint.v3.ClusterLoadAssignment";
    public const string Listener = Prefix + "envoy.config.listener.v3.Listener";
    public const string Route = Prefix + "envoy.config.route.v3.RouteConfiguration";
    public const string Secret = Prefix + "envoy.extensions.transport_sockets.tls.v3.Secret";

    /// <summary>ZenMesh's own resources for the Ingester and the Egress (protos/zenmesh/v1/policy.proto).</summary>
    public const string EndpointPolicy = Prefix + "zenmesh.v1.EndpointPolicy";
    public const string FlowPolicy = Prefix + "zenmesh.v1.FlowPolicy";

    /// <summary>Not a resource type of its own: wraps one (SotW with a TTL, heartbeats, and in resource files).</summary>
    public const string ResourceWrapper = Prefix + "envoy.service.discovery.v3.Resource";

    /// <summary>
    /// Make-before-break: secrets before the clusters and listeners that use them, clusters before
    /// their endpoints, listeners before their routes (Envoy's xDS protocol, "eventual consistency").
    /// </summary>
    public static readonly IReadOnlyList<string> PushOrder = [Secret, Cluster, Endpoint, Listener, Route, EndpointPolicy, FlowPolicy];

    /// <summary>LDS and CDS are state of the world: a name missing from a response is a deletion.</summary>
    public static bool IsStateOfTheWorld(string typeUrl) => typeUrl is Cluster or Listener;

    public static bool IsServed(string typeUrl) => PushOrder.Contains(typeUrl);

    public static string ShortName(string typeUrl) => typeUrl switch
    {
        Cluster => "CDS",
        Endpoint => "EDS",
        Listener => "LDS",
        Route => "RDS",
        Secret => "SDS",
        EndpointPolicy => "EndpointPolicy",
        FlowPolicy => "FlowPolicy",
        _ => typeUrl,
    };

    /// <summary>Removals go the other way: referrers first (listeners, routes), then what they named.</summary>
    public static readonly IReadOnlyList<string> RemovalOrder = [Listener, Route, Cluster, Endpoint, Secret, EndpointPolicy, FlowPolicy];

    public static int RemovalRank(string typeUrl)
    {
        for (var i = 0; i < RemovalOrder.Count; i++)
        {
            if (RemovalOrder[i] == typeUrl)
            {
                return i;
            }
        }
        return RemovalOrder.Count;
    }

    public static int Rank(string typeUrl)
    {
        for (var i = 0; i < PushOrder.Count; i++)
        {
            if (PushOrder[i] == typeUrl)
            {
                return i;
            }
        }
        return PushOrder.Count;
    }
}
