namespace ZenMesh.XdsServer.Compiler;

/// <summary>Names and ports of what the compiler emits, in one place so tests and services agree.</summary>
public static class CompiledNames
{
    public const string IngressListener = "zenmesh-ingress";
    public const string IngressRoutes = "zenmesh-ingress-routes";
    public const string IngesterCluster = "zenmesh-ingester";
    public const uint IngressPort = 10000;

    public const string EgressListener = "zenmesh-egress";
    public const string EgressRoutes = "zenmesh-egress-routes";
    public const uint EgressPort = 10001;

    /// <summary>The header the egress sets on every delivery; the egress listener routes by it.</summary>
    public const string FlowHeader = "x-zenmesh-flow";

    /// <summary>
    /// The header the egress sets on a delivery to a target by name: the address (ip:port) it
    /// resolved and checked. The flow's cluster connects there rather than resolving the name again.
    /// </summary>
    public const string TargetAddressHeader = "x-zenmesh-target-address";

    /// <summary>The header each flow route adds to its responses: the host name of the Envoy that carried the delivery.</summary>
    public const string EnvoyHeader = "x-zenmesh-envoy";

    /// <summary>The header the ingress route adds so the ingester knows which endpoint received the request.</summary>
    public const string EndpointHeader = "x-zenmesh-endpoint";

    public static string FlowCluster(string flow) => $"flow-{flow}";

    public static string NodeId(string tenant, string edge) => $"{tenant}/{edge}";
}
