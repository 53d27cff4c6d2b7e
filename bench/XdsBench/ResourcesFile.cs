using System.Text.Json.Nodes;

namespace ZenMesh.XdsBench;

/// <summary>A resources file of N EDS clusters; endpoint i listens on a port the benchmark changes. Config only: nothing is dialled.</summary>
internal static class ResourcesFile
{
    public const int BasePort = 20000;

    public static string Render(int clusters, IReadOnlyDictionary<int, int> portOverrides)
    {
        var items = new JsonArray();
        for (var i = 0; i < clusters; i++)
        {
            items.Add(new JsonObject
            {
                ["@type"] = "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                ["name"] = $"c{i}",
                ["type"] = "EDS",
                ["connect_timeout"] = "1s",
                ["eds_cluster_config"] = new JsonObject { ["eds_config"] = new JsonObject { ["ads"] = new JsonObject(), ["resource_api_version"] = "V3" } },
            });
            var address = new JsonObject { ["socket_address"] = new JsonObject { ["address"] = "127.0.0.1", ["port_value"] = portOverrides.GetValueOrDefault(i, BasePort + i) } };
            items.Add(new JsonObject
            {
                ["@type"] = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
                ["cluster_name"] = $"c{i}",
                ["endpoints"] = new JsonArray(new JsonObject
                {
                    ["locality"] = new JsonObject { ["region"] = "bench" },
                    ["load_balancing_weight"] = 1,
                    ["lb_endpoints"] = new JsonArray(new JsonObject { ["endpoint"] = new JsonObject { ["address"] = address } }),
                }),
            });
        }
        return items.ToJsonString();
    }
}
