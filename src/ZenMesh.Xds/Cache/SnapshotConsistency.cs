using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf.WellKnownTypes;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Cache;

/// <summary>
/// A snapshot is published only when its references resolve: every EDS name a cluster needs has a
/// ClusterLoadAssignment, every RDS name a listener needs has a RouteConfiguration. Otherwise a
/// client would warm that cluster or listener until its initial_fetch_timeout.
/// </summary>
public static class SnapshotConsistency
{
    /// <summary>
    /// References that do not resolve, and resources that break the protoc-gen-validate rules of the
    /// Envoy API (what Envoy would NACK). <paramref name="alreadyValid"/> skips resources known to pass.
    /// </summary>
    public static IReadOnlyList<string> Check(Snapshot snapshot, Func<XdsResource, bool>? alreadyValid = null)
    {
        var errors = new List<string>();
        foreach (var resource in snapshot.Types.OrderBy(t => TypeUrls.Rank(t.Key)).SelectMany(t => t.Value.Resources.Values))
        {
            if (alreadyValid?.Invoke(resource) != true)
            {
                errors.AddRange(ValidationRules.Check(resource.Body.Unpack(EnvoyTypeRegistry.Instance)).Select(p => $"{TypeUrls.ShortName(resource.TypeUrl)} '{resource.Name}': {p}"));
            }
        }
        var endpoints = snapshot.Get(TypeUrls.Endpoint);
        var missingEds = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var resource in snapshot.Get(TypeUrls.Cluster).Resources.Values)
        {
            var eds = EdsNameOf(resource.Body.Unpack<Cluster>());
            if (eds is not null && endpoints.Find(eds) is null)
            {
                missingEds.Add(eds);
                errors.Add($"Cluster '{resource.Name}' is of type EDS and needs ClusterLoadAssignment '{eds}', which is missing. Add a ClusterLoadAssignment with cluster_name '{eds}', or give the cluster a static load_assignment.");
            }
        }
        var routes = snapshot.Get(TypeUrls.Route);
        var missingRds = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var resource in snapshot.Get(TypeUrls.Listener).Resources.Values)
        {
            foreach (var rds in RdsNamesOf(resource.Body.Unpack<Listener>()))
            {
                if (routes.Find(rds) is null && missingRds.Add(rds))
                {
                    errors.Add($"Listener '{resource.Name}' names RouteConfiguration '{rds}' (rds.route_config_name), which is missing. Add a RouteConfiguration named '{rds}', or inline a route_config.");
                }
            }
        }
        if (missingEds.Count > 0)
        {
            errors.Insert(0, $"inconsistent \"eds\" reference: missing [{string.Join(", ", missingEds)}]");
        }
        if (missingRds.Count > 0)
        {
            errors.Insert(missingEds.Count > 0 ? 1 : 0, $"inconsistent \"rds\" reference: missing [{string.Join(", ", missingRds)}]");
        }
        return errors;
    }

    /// <summary>The ClusterLoadAssignment name an EDS cluster subscribes to, or null for other cluster types.</summary>
    public static string? EdsNameOf(Cluster cluster)
    {
        if (cluster.ClusterDiscoveryTypeCase != Cluster.ClusterDiscoveryTypeOneofCase.Type || cluster.Type != Cluster.Types.DiscoveryType.Eds)
        {
            return null;
        }
        var serviceName = cluster.EdsClusterConfig?.ServiceName;
        return string.IsNullOrEmpty(serviceName) ? cluster.Name : serviceName;
    }

    /// <summary>RouteConfiguration names a listener fetches over RDS, from its API listener and its filter chains.</summary>
    public static IEnumerable<string> RdsNamesOf(Listener listener)
    {
        var configs = new List<Any>();
        if (listener.ApiListener?.ApiListener_ is { } api)
        {
            configs.Add(api);
        }
        var chains = listener.FilterChains.AsEnumerable();
        if (listener.DefaultFilterChain is { } fallback)
        {
            chains = chains.Append(fallback);
        }
        foreach (var chain in chains)
        {
            configs.AddRange(chain.Filters.Where(f => f.TypedConfig is not null).Select(f => f.TypedConfig));
        }
        foreach (var any in configs)
        {
            if (any.Is(HttpConnectionManager.Descriptor) && any.Unpack<HttpConnectionManager>() is { RouteSpecifierCase: HttpConnectionManager.RouteSpecifierOneofCase.Rds } hcm)
            {
                yield return hcm.Rds.RouteConfigName;
            }
        }
    }
}
