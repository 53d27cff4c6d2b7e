namespace ZenMesh.XdsServer.Tests.RealEnvoy;

/// <summary>A bootstrap for an Envoy that takes everything over delta ADS straight from the control plane.</summary>
internal static class EnvoyBootstrap
{
    public const int AdminPort = 9901;

    public static string Direct(string nodeId, string xdsHost, int xdsPort) => $$"""
        {
          "node": { "id": "{{nodeId}}", "cluster": "zenmesh-edge" },
          "admin": { "address": { "socket_address": { "address": "0.0.0.0", "port_value": {{AdminPort}} } } },
          "dynamic_resources": {
            "ads_config": {
              "api_type": "DELTA_GRPC",
              "transport_api_version": "V3",
              "grpc_services": [ { "envoy_grpc": { "cluster_name": "zenmesh-xds" } } ],
              "set_node_on_first_message_only": true
            },
            "cds_config": { "ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": "10s" },
            "lds_config": { "ads": {}, "resource_api_version": "V3", "initial_fetch_timeout": "10s" }
          },
          "static_resources": {
            "clusters": [ {
              "name": "zenmesh-xds",
              "type": "STRICT_DNS",
              "connect_timeout": "2s",
              "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                  "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                  "explicit_http_config": { "http2_protocol_options": {} }
                }
              },
              "load_assignment": {
                "cluster_name": "zenmesh-xds",
                "endpoints": [ { "lb_endpoints": [ { "endpoint": { "address": { "socket_address": { "address": "{{xdsHost}}", "port_value": {{xdsPort}} } } } } ] } ]
              }
            } ]
          }
        }
        """;
}
