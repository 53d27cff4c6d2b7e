using Envoy.Config.Cluster.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.LocalRatelimit.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Model;
using XdsModel = ZenMesh.XdsServer.Model;
using ZenMesh.Xds.Resources;
using Cluster = Envoy.Config.Cluster.V3.Cluster;

namespace ZenMesh.XdsServer.Tests.Compiler;

public sealed class FlowCompilerTests
{
    private static DesiredState State(Flow? flow = null, Target? target = null, XdsModel.Endpoint? endpoint = null) => DesiredState.Empty
        .With(ResourceKind.Edge, "acme", "edge-1", new Edge())
        .With(ResourceKind.Endpoint, "acme", "gh", endpoint ?? new XdsModel.Endpoint { Edge = "edge-1", Provider = "github", SecretRef = "gh-secret" })
        .With(ResourceKind.Target, "acme", "orders", target ?? new Target { Edge = "edge-1", Url = "http://10.1.2.3:9100/hooks/in" })
        .With(ResourceKind.Flow, "acme", "gh-orders", flow ?? new Flow { Endpoint = "gh", Target = "orders" });

    private static Snapshot Compile(DesiredState state)
    {
        Assert.Empty(DesiredStateValidator.Validate(state));
        var compiled = FlowCompiler.Compile(state);
        var snapshot = compiled["acme/edge-1"];
        Assert.Empty(SnapshotConsistency.Check(snapshot));
        return snapshot;
    }

    private static T One<T>(Snapshot snapshot, string typeUrl, string name) where T : Google.Protobuf.IMessage<T>, new() =>
        snapshot.Get(typeUrl).Find(name)!.Body.Unpack<T>();

    [Fact]
    public void Compile_IsDeterministic_WhateverTheOrderStateWasBuiltIn()
    {
        var a = State();
        var b = DesiredState.Empty
            .With(ResourceKind.Flow, "acme", "gh-orders", new Flow { Endpoint = "gh", Target = "orders" })
            .With(ResourceKind.Target, "acme", "orders", new Target { Edge = "edge-1", Url = "http://10.1.2.3:9100/hooks/in" })
            .With(ResourceKind.Endpoint, "acme", "gh", new XdsModel.Endpoint { Edge = "edge-1", Provider = "github", SecretRef = "gh-secret" })
            .With(ResourceKind.Edge, "acme", "edge-1", new Edge());

        Assert.Equal(Compile(a).Version, Compile(b).Version);
        Assert.NotEqual(Compile(a).Version, Compile(State(flow: new Flow { Endpoint = "gh", Target = "orders", MaxInFlight = 5 })).Version);
    }

    [Fact]
    public void Flow_BecomesARouteByHeader_AndAClusterWithItsBackpressureAndOutlierDetection()
    {
        var snapshot = Compile(State(flow: new Flow
        {
            Endpoint = "gh",
            Target = "orders",
            Timeout = TimeSpan.FromSeconds(12),
            Retry = new XdsModel.RetryPolicy { Retries = 3, PerTryTimeout = TimeSpan.FromSeconds(4), RetryOn = ["5xx", "reset"] },
            MaxInFlight = 64,
            MaxPending = 8,
            OutlierDetection = new XdsModel.OutlierDetection { Consecutive5xx = 7 },
        }));

        var cluster = One<Cluster>(snapshot, TypeUrls.Cluster, "flow-gh-orders");
        Assert.Equal((64u, 8u), (cluster.CircuitBreakers.Thresholds[0].MaxRequests!.Value, cluster.CircuitBreakers.Thresholds[0].MaxPendingRequests!.Value));
        Assert.Equal(7u, cluster.OutlierDetection.Consecutive5Xx);
        Assert.Equal(Cluster.Types.DiscoveryType.Static, cluster.Type);
        Assert.Equal(9100u, cluster.LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue);

        var route = One<RouteConfiguration>(snapshot, TypeUrls.Route, CompiledNames.EgressRoutes).VirtualHosts[0].Routes.First(r => r.Name == "flow-gh-orders");
        Assert.Equal(("x-zenmesh-flow", "gh-orders"), (route.Match.Headers[0].Name, route.Match.Headers[0].StringMatch.Exact));
        Assert.Equal(TimeSpan.FromSeconds(12), route.Route_.Timeout.ToTimeSpan());
        Assert.Equal(("5xx,reset", 3u, TimeSpan.FromSeconds(4)), (route.Route_.RetryPolicy.RetryOn, route.Route_.RetryPolicy.NumRetries!.Value, route.Route_.RetryPolicy.PerTryTimeout.ToTimeSpan()));
        Assert.Equal(("/hooks/in", "10.1.2.3:9100"), (route.Route_.PrefixRewrite, route.Route_.HostRewriteLiteral));
        Assert.Equal((CompiledNames.EnvoyHeader, "%HOSTNAME%"), (route.ResponseHeadersToAdd[0].Header.Key, route.ResponseHeadersToAdd[0].Header.Value));

        // The egress mirrors Envoy's per-request retries when it delivers without Envoy.
        var policy = One<ZenMesh.Contracts.V1.FlowPolicy>(snapshot, TypeUrls.FlowPolicy, "acme/gh-orders");
        Assert.Equal((3u, TimeSpan.FromSeconds(4)), (policy.RequestRetries, policy.PerTryTimeout.ToTimeSpan()));
    }

    [Fact]
    public void Endpoint_BecomesAnIngressRouteToTheIngester_WithItsLimits()
    {
        var snapshot = Compile(State(endpoint: new XdsModel.Endpoint { Edge = "edge-1", Provider = "github", SecretRef = "s", MaxBodyBytes = 4096, RateLimit = new XdsModel.RateLimit { RequestsPerSecond = 20, Burst = 40 } }));

        var route = One<RouteConfiguration>(snapshot, TypeUrls.Route, CompiledNames.IngressRoutes).VirtualHosts[0].Routes.First(r => r.Name == "endpoint-gh");
        Assert.Equal("/hooks/acme/gh", route.Match.Path);
        Assert.Equal(CompiledNames.IngesterCluster, route.Route_.Cluster);
        Assert.Equal(4096u, route.PerRequestBufferLimitBytes);
        Assert.Equal(("x-zenmesh-endpoint", "acme/gh"), (route.RequestHeadersToAdd[0].Header.Key, route.RequestHeadersToAdd[0].Header.Value));
        var limit = route.TypedPerFilterConfig["envoy.filters.http.local_ratelimit"].Unpack<LocalRateLimit>();
        Assert.Equal((40u, 20u), (limit.TokenBucket.MaxTokens, limit.TokenBucket.TokensPerFill));
        Assert.Equal(8081u, One<Cluster>(snapshot, TypeUrls.Cluster, CompiledNames.IngesterCluster).LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue);
    }

    [Fact]
    public void HttpsTarget_ByName_ConnectsOnlyToTheAddressTheEgressChecked_AndGetsTlsWithSecretsFromTheEdge()
    {
        var snapshot = Compile(State(target: new Target
        {
            Edge = "edge-1",
            Url = "https://orders.internal/hooks",
            Tls = new TargetTls { CaSecretRef = "orders-ca", ClientCertificateSecretRef = "orders-client" },
        }));

        // Envoy does not resolve the name (a rebinding DNS server could answer it with a metadata
        // address after the egress checked it): it connects to the address the egress names, on the
        // target's own port whatever the header says, and the route refuses a request without one.
        var cluster = One<Cluster>(snapshot, TypeUrls.Cluster, "flow-gh-orders");
        Assert.Equal(Cluster.Types.DiscoveryType.OriginalDst, cluster.Type);
        Assert.Equal(Cluster.Types.LbPolicy.ClusterProvided, cluster.LbPolicy);
        Assert.Null(cluster.LoadAssignment);
        Assert.True(cluster.OriginalDstLbConfig.UseHttpHeader);
        Assert.Equal(CompiledNames.TargetAddressHeader, cluster.OriginalDstLbConfig.HttpHeaderName);
        Assert.Equal(443u, cluster.OriginalDstLbConfig.UpstreamPortOverride);
        var route = One<RouteConfiguration>(snapshot, TypeUrls.Route, CompiledNames.EgressRoutes).VirtualHosts[0].Routes.First(r => r.Name == "flow-gh-orders");
        Assert.Contains(route.Match.Headers, h => h.Name == CompiledNames.TargetAddressHeader && h.PresentMatch);
        Assert.Equal("orders.internal", route.Route_.HostRewriteLiteral);

        var tls = cluster.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        Assert.Equal("orders.internal", tls.Sni);
        Assert.Equal("orders-ca", tls.CommonTlsContext.CombinedValidationContext.ValidationContextSdsSecretConfig.Name);
        Assert.Equal("orders-client", tls.CommonTlsContext.TlsCertificateSdsSecretConfigs.Single().Name);
    }

    [Fact]
    public void AHealthCheck_IsCompiledForATargetByAddress_AndRefusedForOneByName_WithTheReason()
    {
        var byAddress = Compile(State(target: new Target { Edge = "edge-1", Url = "http://10.1.2.3:9100/hooks", HealthCheck = new XdsModel.HealthCheck { Path = "/ready" } }));
        Assert.Equal("/ready", One<Cluster>(byAddress, TypeUrls.Cluster, "flow-gh-orders").HealthChecks.Single().HttpHealthCheck.Path);

        var problems = DesiredStateValidator.Validate(State(target: new Target { Edge = "edge-1", Url = "https://orders.internal/hooks", HealthCheck = new XdsModel.HealthCheck { Path = "/ready" } }));
        var problem = Assert.Single(problems);
        Assert.Equal("healthCheck", problem.Field);
        Assert.Contains("address", problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void HttpsTarget_WithoutACa_IsVerifiedAgainstTheEdgesTrustBundle_AndItsHostName()
    {
        var snapshot = Compile(State(target: new Target { Edge = "edge-1", Url = "https://hooks.example.com/in" }));

        var tls = One<Cluster>(snapshot, TypeUrls.Cluster, "flow-gh-orders").TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        var validation = tls.CommonTlsContext.ValidationContext;
        Assert.NotNull(validation);
        Assert.Equal("/etc/ssl/certs/ca-certificates.crt", validation.TrustedCa.Filename);
        var san = Assert.Single(validation.MatchTypedSubjectAltNames);
        Assert.Equal(SubjectAltNameMatcher.Types.SanType.Dns, san.SanType);
        Assert.Equal("hooks.example.com", san.Matcher.Exact);
    }

    [Fact]
    public void HttpsTarget_WithItsOwnCa_IsVerifiedAgainstThatCa_FromTheEdgesSds_AndItsHostName()
    {
        var snapshot = Compile(State(target: new Target { Edge = "edge-1", Url = "https://10.9.8.7/in", Tls = new TargetTls { CaSecretRef = "orders-ca" } }));

        var combined = One<Cluster>(snapshot, TypeUrls.Cluster, "flow-gh-orders").TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>().CommonTlsContext.CombinedValidationContext;
        Assert.NotNull(combined);
        Assert.Equal("orders-ca", combined.ValidationContextSdsSecretConfig.Name);
        Assert.NotNull(combined.ValidationContextSdsSecretConfig.SdsConfig.Ads);
        var san = Assert.Single(combined.DefaultValidationContext.MatchTypedSubjectAltNames);
        Assert.Equal((SubjectAltNameMatcher.Types.SanType.IpAddress, "10.9.8.7"), (san.SanType, san.Matcher.Exact));
    }

    [Fact]
    public void HttpsTarget_ThatSkipsVerification_SaysSo_AndCarriesNoValidation()
    {
        var snapshot = Compile(State(target: new Target { Edge = "edge-1", Url = "https://hooks.example.com/in", Tls = new TargetTls { InsecureSkipVerify = true } }));

        var tls = One<Cluster>(snapshot, TypeUrls.Cluster, "flow-gh-orders").TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        Assert.Null(tls.CommonTlsContext.ValidationContext);
        Assert.Null(tls.CommonTlsContext.CombinedValidationContext);
        var policy = One<ZenMesh.Contracts.V1.FlowPolicy>(snapshot, TypeUrls.FlowPolicy, "acme/gh-orders");
        Assert.True(policy.TargetTlsInsecure);
        var both = DesiredStateValidator.Validate(State(target: new Target { Edge = "edge-1", Url = "https://hooks.example.com/in", Tls = new TargetTls { InsecureSkipVerify = true, CaSecretRef = "ca" } }));
        Assert.Equal(["targets/orders: field 'tls.insecureSkipVerify': is true beside a caSecretRef; verify against the CA, or skip verification, not both."], both.Select(p => p.ToString()));
    }

    [Fact]
    public void EgressListener_BindsLoopback_UnlessTheEdgeSaysOtherwise()
    {
        static string Bound(Snapshot snapshot) => One<Envoy.Config.Listener.V3.Listener>(snapshot, TypeUrls.Listener, CompiledNames.EgressListener).Address.SocketAddress.Address;

        Assert.Equal("127.0.0.1", Bound(Compile(State())));
        Assert.Equal("0.0.0.0", Bound(Compile(State().With(ResourceKind.Edge, "acme", "edge-1", new Edge { EgressListenerAddress = "0.0.0.0" }))));
        var bad = DesiredStateValidator.Validate(State().With(ResourceKind.Edge, "acme", "edge-1", new Edge { EgressListenerAddress = "everywhere" }));
        Assert.Equal(["edges/edge-1: field 'egressListenerAddress': is 'everywhere'; use an IP address Envoy can bind, \"127.0.0.1\" (the default) or \"0.0.0.0\"."], bad.Select(p => p.ToString()));
    }

    [Fact]
    public void DisabledFlow_AndEdgeWithNothing_CompileToNoEgress()
    {
        var snapshot = Compile(State(flow: new Flow { Endpoint = "gh", Target = "orders", Enabled = false }));
        Assert.Null(snapshot.Get(TypeUrls.Cluster).Find("flow-gh-orders"));
        Assert.Null(snapshot.Get(TypeUrls.Listener).Find(CompiledNames.EgressListener));

        var bare = FlowCompiler.Compile(DesiredState.Empty.With(ResourceKind.Edge, "acme", "empty", new Edge()))["acme/empty"];
        Assert.Empty(bare.Types);
    }

    [Fact]
    public void ZenMeshPolicies_TellTheIngesterAndTheEgressWhatTheyNeed_AndNoSecretValues()
    {
        var snapshot = Compile(State(flow: new Flow
        {
            Endpoint = "gh",
            Target = "orders",
            EventTypes = ["push", "pull_request.*"],
            Signing = new Signing { SecretRef = "orders-signing" },
            OrderingKey = "/repository/id",
            Redelivery = new Redelivery { Delays = [TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1)], Horizon = TimeSpan.FromHours(1) },
        }));

        var endpoint = One<ZenMesh.Contracts.V1.EndpointPolicy>(snapshot, TypeUrls.EndpointPolicy, "acme/gh");
        Assert.Equal(("github", "gh-secret", "/hooks/acme/gh", 1048576UL), (endpoint.Provider, endpoint.SecretRef, endpoint.Path, endpoint.MaxBodyBytes));
        var route = Assert.Single(endpoint.Flows);
        Assert.Equal(("gh-orders", true), (route.Flow, route.Enabled));
        Assert.Equal(["push", "pull_request.*"], route.EventTypes);

        var flow = One<ZenMesh.Contracts.V1.FlowPolicy>(snapshot, TypeUrls.FlowPolicy, "acme/gh-orders");
        Assert.Equal(("http://10.1.2.3:9100/hooks/in", "orders-signing", "/repository/id"), (flow.TargetUrl, flow.SigningSecretRef, flow.OrderingKey));
        Assert.Equal([TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(1)], flow.RedeliveryDelays.Select(d => d.ToTimeSpan()));
        Assert.Equal(TimeSpan.FromHours(1), flow.RedeliveryHorizon.ToTimeSpan());
    }
}
