namespace ZenMesh.Egress.Delivery;

/// <summary>Headers between the egress and its Envoy, as the control plane's compiler emits them.</summary>
public static class EnvoyHeaders
{
    /// <summary>Set on every delivery through Envoy; the egress listener routes by it to the flow's cluster.</summary>
    public const string Flow = "x-zenmesh-flow";

    /// <summary>
    /// Set on every delivery through Envoy: the target's address (ip:port) as the egress resolved and
    /// checked it. A flow's cluster for a target by name connects there instead of resolving again.
    /// </summary>
    public const string TargetAddress = "x-zenmesh-target-address";

    /// <summary>Added by the flow's route to its responses: the host name of the Envoy that carried the attempt.</summary>
    public const string Envoy = "x-zenmesh-envoy";

    /// <summary>Envoy's mark on a response it made itself because a circuit breaker overflowed.</summary>
    public const string Overloaded = "x-envoy-overloaded";

    /// <summary>Present only on responses that came from the upstream (the target), not from Envoy itself.</summary>
    public const string UpstreamTime = "x-envoy-upstream-service-time";
}
