using Envoy.Config.Accesslog.V3;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.AccessLoggers.File.V3;
using Envoy.Extensions.Filters.Http.LocalRatelimit.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Type.Matcher.V3;
using Envoy.Type.V3;
using Google.Protobuf.WellKnownTypes;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Model;
using ZenMesh.Xds.Resources;
using Cluster = Envoy.Config.Cluster.V3.Cluster;
using HealthCheck = Envoy.Config.Core.V3.HealthCheck;
using OutlierDetection = Envoy.Config.Cluster.V3.OutlierDetection;
using Route = Envoy.Config.Route.V3.Route;
using RetryPolicy = Envoy.Config.Route.V3.RetryPolicy;
using RateLimit = ZenMesh.XdsServer.Model.RateLimit;
using Filter = Envoy.Config.Listener.V3.Filter;

namespace ZenMesh.XdsServer.Compiler;

/// <summary>
/// Desired state in, one snapshot per edge out. Pure and deterministic: the same state gives the
/// same bytes and so the same content-hash versions, on any replica, after any restart.
/// An edge with endpoints gets the ingress listener (port 10000) routing each endpoint's path to its
/// ingester; an edge with targets gets the egress listener (127.0.0.1:10001) routing by the
/// x-zenmesh-flow header to one cluster per flow, which carries the flow's circuit breakers
/// (backpressure), outlier detection, the target's health check and TLS.
/// </summary>
public static class FlowCompiler
{
    private const string LocalRateLimitFilter = "envoy.filters.http.local_ratelimit";

    /// <summary>Every edge of every tenant, keyed by node id "{tenant}/{edge}".</summary>
    public static IReadOnlyDictionary<string, Snapshot> Compile(DesiredState state) =>
        state.Edges.Keys.ToDictionary(key => key, key =>
        {
            var (tenant, edge) = DesiredState.Split(key);
            return CompileEdge(state, tenant, edge);
        }, StringComparer.Ordinal);

    /// <summary>The edges of one tenant, keyed by node id.</summary>
    public static IReadOnlyDictionary<string, Snapshot> CompileTenant(DesiredState state, string tenant) =>
        state.List(ResourceKind.Edge, tenant).ToDictionary(e => DesiredState.Key(tenant, e.Name), e => CompileEdge(state, tenant, e.Name), StringComparer.Ordinal);

    public static Snapshot CompileEdge(DesiredState state, string tenant, string edgeName)
    {
        var edge = state.Edges[DesiredState.Key(tenant, edgeName)];
        var resources = new List<XdsResource>();
        var endpoints = state.List(ResourceKind.Endpoint, tenant).Select(e => (e.Name, Spec: (Model.Endpoint)e.Spec)).Where(e => e.Spec.Edge == edgeName).ToList();
        if (endpoints.Count > 0)
        {
            resources.AddRange(Ingress(tenant, edge, endpoints));
            // Group once per edge: scanning every flow per endpoint would make a full compile quadratic.
            var feeds = state.List(ResourceKind.Flow, tenant).Select(f => (f.Name, Spec: (Flow)f.Spec)).ToLookup(f => f.Spec.Endpoint, StringComparer.Ordinal);
            resources.AddRange(endpoints.Select(e => XdsResource.Create(EndpointPolicy(tenant, e.Name, e.Spec, feeds[e.Name]))));
        }
        var flows = state.List(ResourceKind.Flow, tenant)
            .Select(f => (f.Name, Spec: (Flow)f.Spec))
            .Select(f => (f.Name, f.Spec, Target: state.Targets.GetValueOrDefault(DesiredState.Key(tenant, f.Spec.Target))))
            .Where(f => f.Spec.Enabled && f.Target?.Edge == edgeName)
            .Select(f => (f.Name, f.Spec, Target: f.Target!))
            .ToList();
        if (flows.Count > 0)
        {
            resources.AddRange(Egress(edge, flows));
            resources.AddRange(flows.Select(f => XdsResource.Create(FlowPolicy(tenant, f.Name, f.Spec, f.Target))));
        }
        return Snapshot.Create(resources, $"flow-api:{tenant}/{edgeName}");
    }

    private static IEnumerable<XdsResource> Ingress(string tenant, Edge edge, List<(string Name, Model.Endpoint Spec)> endpoints)
    {
        yield return XdsResource.Create(HttpListener(CompiledNames.IngressListener, "0.0.0.0", CompiledNames.IngressPort, CompiledNames.IngressRoutes));
        var host = new VirtualHost { Name = "endpoints", Domains = { "*" } };
        foreach (var (name, endpoint) in endpoints)
        {
            var route = new Route
            {
                Name = $"endpoint-{name}",
                Match = new RouteMatch { Path = DesiredStateValidator.EndpointPath(tenant, name, endpoint) },
                Route_ = new RouteAction { Cluster = CompiledNames.IngesterCluster, Timeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)) },
                PerRequestBufferLimitBytes = (uint)endpoint.MaxBodyBytes,
            };
            route.RequestHeadersToAdd.Add(new HeaderValueOption
            {
                Header = new HeaderValue { Key = CompiledNames.EndpointHeader, Value = DesiredState.Key(tenant, name) },
                AppendAction = HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd,
            });
            if (endpoint.RateLimit is { } limit)
            {
                route.TypedPerFilterConfig[LocalRateLimitFilter] = Any.Pack(TokenBucketLimit($"endpoint_{name}", limit));
            }
            host.Routes.Add(route);
        }
        host.Routes.Add(NotFound("unknown-endpoint", "no such webhook endpoint"));
        yield return XdsResource.Create(new RouteConfiguration { Name = CompiledNames.IngressRoutes, VirtualHosts = { host } });
        var (address, port) = SplitHostPort(edge.IngesterAddress);
        yield return XdsResource.Create(StaticCluster(CompiledNames.IngesterCluster, address, port, TimeSpan.FromSeconds(1)));
    }

    private static IEnumerable<XdsResource> Egress(Edge edge, List<(string Name, Flow Spec, Target Target)> flows)
    {
        yield return XdsResource.Create(HttpListener(CompiledNames.EgressListener, edge.EgressListenerAddress, CompiledNames.EgressPort, CompiledNames.EgressRoutes));
        var host = new VirtualHost { Name = "flows", Domains = { "*" } };
        foreach (var (name, flow, target) in flows)
        {
            var url = new Uri(target.Url);
            var action = new RouteAction
            {
                Cluster = CompiledNames.FlowCluster(name),
                Timeout = Duration.FromTimeSpan(flow.Timeout),
                PrefixRewrite = url.AbsolutePath,
                HostRewriteLiteral = url.IsDefaultPort ? url.Host : $"{url.Host}:{url.Port}",
                RetryPolicy = new RetryPolicy
                {
                    RetryOn = string.Join(',', flow.Retry.RetryOn),
                    NumRetries = (uint)flow.Retry.Retries,
                    RetryBackOff = new RetryPolicy.Types.RetryBackOff { BaseInterval = Duration.FromTimeSpan(flow.Retry.BackoffBase), MaxInterval = Duration.FromTimeSpan(flow.Retry.BackoffMax) },
                },
            };
            action.RetryPolicy.RetriableStatusCodes.AddRange([429, 502, 503, 504]);
            if (flow.Retry.PerTryTimeout is { } perTry)
            {
                action.RetryPolicy.PerTryTimeout = Duration.FromTimeSpan(perTry);
            }
            var route = new Route
            {
                Name = $"flow-{name}",
                Match = new RouteMatch { Prefix = "/", Headers = { new HeaderMatcher { Name = CompiledNames.FlowHeader, StringMatch = new StringMatcher { Exact = name } } } },
                Route_ = action,
            };
            if (ByName(url))
            {
                // Without the address the egress checked, an ORIGINAL_DST cluster would connect to
                // where the request came in: this listener. Such a request finds no flow instead.
                route.Match.Headers.Add(new HeaderMatcher { Name = CompiledNames.TargetAddressHeader, PresentMatch = true });
            }
            // The egress's delivery log says which Envoy carried each attempt.
            route.ResponseHeadersToAdd.Add(new HeaderValueOption
            {
                Header = new HeaderValue { Key = CompiledNames.EnvoyHeader, Value = "%HOSTNAME%" },
                AppendAction = HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd,
            });
            if (flow.RateLimit is { } limit)
            {
                route.TypedPerFilterConfig[LocalRateLimitFilter] = Any.Pack(TokenBucketLimit($"flow_{name}", limit));
            }
            host.Routes.Add(route);
        }
        host.Routes.Add(NotFound("unknown-flow", $"no flow named by {CompiledNames.FlowHeader}"));
        yield return XdsResource.Create(new RouteConfiguration { Name = CompiledNames.EgressRoutes, VirtualHosts = { host } });
        foreach (var (name, flow, target) in flows)
        {
            yield return XdsResource.Create(FlowCluster(name, flow, target, edge));
        }
    }

    /// <summary>What the ingester needs of an endpoint: how to verify it, and which flows it feeds.</summary>
    private static ZenMesh.Contracts.V1.EndpointPolicy EndpointPolicy(string tenant, string name, Model.Endpoint endpoint, IEnumerable<(string Name, Flow Spec)> feeds)
    {
        var policy = new ZenMesh.Contracts.V1.EndpointPolicy
        {
            Name = DesiredState.Key(tenant, name),
            Tenant = tenant,
            Endpoint = name,
            Provider = endpoint.Provider,
            SecretRef = endpoint.SecretRef ?? "",
            Path = DesiredStateValidator.EndpointPath(tenant, name, endpoint),
            MaxBodyBytes = (ulong)endpoint.MaxBodyBytes,
            Hmac = endpoint.Hmac is { } hmac ? new ZenMesh.Contracts.V1.HmacSignature { Header = hmac.Header, Encoding = hmac.Encoding, Prefix = hmac.Prefix } : null,
        };
        foreach (var (flowName, flow) in feeds)
        {
            policy.Flows.Add(new ZenMesh.Contracts.V1.FlowRoute { Flow = flowName, EventTypes = { flow.EventTypes }, Enabled = flow.Enabled });
        }
        return policy;
    }

    /// <summary>What the egress needs of a flow: where to deliver, how long to keep trying, how to sign.</summary>
    private static ZenMesh.Contracts.V1.FlowPolicy FlowPolicy(string tenant, string name, Flow flow, Target target)
    {
        var policy = new ZenMesh.Contracts.V1.FlowPolicy
        {
            Name = DesiredState.Key(tenant, name),
            Tenant = tenant,
            Flow = name,
            Endpoint = flow.Endpoint,
            Target = flow.Target,
            TargetUrl = target.Url,
            Timeout = Duration.FromTimeSpan(flow.Timeout),
            MaxInFlight = (uint)flow.MaxInFlight,
            RedeliveryRepeatEvery = Duration.FromTimeSpan(flow.Redelivery.RepeatEvery),
            RedeliveryHorizon = Duration.FromTimeSpan(flow.Redelivery.Horizon),
            SigningSecretRef = flow.Signing?.SecretRef ?? "",
            OrderingKey = flow.OrderingKey ?? "",
            EventTypes = { flow.EventTypes },
            Enabled = flow.Enabled,
            RequestRetries = (uint)flow.Retry.Retries,
            TargetAllowLoopback = target.AllowLoopback,
            TargetCaSecretRef = target.Tls?.CaSecretRef ?? "",
            TargetServerName = target.Tls?.Sni ?? "",
            TargetTlsInsecure = target.Tls?.InsecureSkipVerify == true,
            PerTryTimeout = flow.Retry.PerTryTimeout is { } perTry ? Duration.FromTimeSpan(perTry) : null,
        };
        policy.RedeliveryDelays.AddRange(flow.Redelivery.Delays.Select(Duration.FromTimeSpan));
        return policy;
    }

    /// <summary>The last route of a virtual host: anything no endpoint or flow claimed gets a plain 404.</summary>
    private static Route NotFound(string name, string message) => new()
    {
        Name = name,
        Match = new RouteMatch { Prefix = "/" },
        DirectResponse = new DirectResponseAction { Status = 404, Body = new DataSource { InlineString = message + "\n" } },
    };

    private static Cluster FlowCluster(string name, Flow flow, Target target, Edge edge)
    {
        var url = new Uri(target.Url);
        var cluster = ByName(url) ? CheckedAddressCluster(CompiledNames.FlowCluster(name), (uint)url.Port, target.ConnectTimeout) : StaticCluster(CompiledNames.FlowCluster(name), url.Host, (uint)url.Port, target.ConnectTimeout);
        cluster.CircuitBreakers = new CircuitBreakers
        {
            Thresholds =
            {
                new CircuitBreakers.Types.Thresholds
                {
                    Priority = RoutingPriority.Default,
                    MaxRequests = (uint)flow.MaxInFlight,
                    MaxPendingRequests = (uint)flow.MaxPending,
                    MaxRetries = (uint)Math.Max(1, flow.MaxInFlight / 4),
                },
            },
        };
        cluster.OutlierDetection = new OutlierDetection
        {
            Consecutive5Xx = (uint)flow.OutlierDetection.Consecutive5xx,
            Interval = Duration.FromTimeSpan(flow.OutlierDetection.Interval),
            BaseEjectionTime = Duration.FromTimeSpan(flow.OutlierDetection.BaseEjectionTime),
            MaxEjectionPercent = (uint)flow.OutlierDetection.MaxEjectionPercent,
        };
        if (target.HealthCheck is { } hc)
        {
            cluster.HealthChecks.Add(new HealthCheck
            {
                Timeout = Duration.FromTimeSpan(hc.Timeout),
                Interval = Duration.FromTimeSpan(hc.Interval),
                UnhealthyThreshold = (uint)hc.UnhealthyThreshold,
                HealthyThreshold = (uint)hc.HealthyThreshold,
                HttpHealthCheck = new HealthCheck.Types.HttpHealthCheck { Path = hc.Path },
            });
        }
        if (url.Scheme == "https")
        {
            var serverName = target.Tls?.Sni ?? url.Host;
            var tls = new UpstreamTlsContext { Sni = serverName, CommonTlsContext = new CommonTlsContext() };
            // Envoy verifies nothing unless told to: every https target is checked against a CA and
            // its name, unless the target explicitly (and visibly) skips verification.
            var names = new CertificateValidationContext { MatchTypedSubjectAltNames = { ServerNameMatcher(serverName) } };
            if (target.Tls?.CaSecretRef is { } ca)
            {
                tls.CommonTlsContext.CombinedValidationContext = new CommonTlsContext.Types.CombinedCertificateValidationContext
                {
                    DefaultValidationContext = names,
                    ValidationContextSdsSecretConfig = Sds(ca),
                };
            }
            else if (target.Tls?.InsecureSkipVerify != true)
            {
                names.TrustedCa = new Envoy.Config.Core.V3.DataSource { Filename = edge.TrustBundle };
                tls.CommonTlsContext.ValidationContext = names;
            }
            if (target.Tls?.ClientCertificateSecretRef is { } cert)
            {
                tls.CommonTlsContext.TlsCertificateSdsSecretConfigs.Add(Sds(cert));
            }
            cluster.TransportSocket = new TransportSocket { Name = "envoy.transport_sockets.tls", TypedConfig = Any.Pack(tls) };
        }
        return cluster;
    }

    /// <summary>The target's certificate must name <paramref name="serverName"/>: as an IP address SAN when it is one, else as a DNS SAN.</summary>
    private static SubjectAltNameMatcher ServerNameMatcher(string serverName) =>
        System.Net.IPAddress.TryParse(serverName.Trim('[', ']'), out _)
            ? new SubjectAltNameMatcher { SanType = SubjectAltNameMatcher.Types.SanType.IpAddress, Matcher = new Envoy.Type.Matcher.V3.StringMatcher { Exact = serverName.Trim('[', ']') } }
            : new SubjectAltNameMatcher { SanType = SubjectAltNameMatcher.Types.SanType.Dns, Matcher = new Envoy.Type.Matcher.V3.StringMatcher { Exact = serverName } };

    /// <summary>Secrets stay at the edge: the cluster names them and the edge's SDS serves their values.</summary>
    private static SdsSecretConfig Sds(string name) =>
        new() { Name = name, SdsConfig = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 } };

    private static bool ByName(Uri url) => !System.Net.IPAddress.TryParse(url.Host.Trim('[', ']'), out _);

    /// <summary>
    /// A target by name: Envoy connects to the address the egress resolved and checked against the
    /// target rules (it names it in <see cref="CompiledNames.TargetAddressHeader"/>), on the target's
    /// port whatever the header says. Were Envoy to resolve the name itself, a rebinding DNS server
    /// could answer it with a metadata or loopback address after the egress's check.
    /// </summary>
    private static Cluster CheckedAddressCluster(string name, uint port, TimeSpan connectTimeout) => new()
    {
        Name = name,
        Type = Cluster.Types.DiscoveryType.OriginalDst,
        ConnectTimeout = Duration.FromTimeSpan(connectTimeout),
        LbPolicy = Cluster.Types.LbPolicy.ClusterProvided,
        OriginalDstLbConfig = new Cluster.Types.OriginalDstLbConfig { UseHttpHeader = true, HttpHeaderName = CompiledNames.TargetAddressHeader, UpstreamPortOverride = port },
    };

    private static Cluster StaticCluster(string name, string host, uint port, TimeSpan connectTimeout)
    {
        var isAddress = System.Net.IPAddress.TryParse(host.Trim('[', ']'), out _);
        var cluster = new Cluster
        {
            Name = name,
            Type = isAddress ? Cluster.Types.DiscoveryType.Static : Cluster.Types.DiscoveryType.StrictDns,
            ConnectTimeout = Duration.FromTimeSpan(connectTimeout),
            LbPolicy = Cluster.Types.LbPolicy.RoundRobin,
            LoadAssignment = new ClusterLoadAssignment { ClusterName = name },
        };
        if (!isAddress)
        {
            cluster.DnsLookupFamily = Cluster.Types.DnsLookupFamily.V4Preferred;
        }
        cluster.LoadAssignment.Endpoints.Add(new LocalityLbEndpoints
        {
            LbEndpoints = { new LbEndpoint { Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = new Address { SocketAddress = new SocketAddress { Address = host.Trim('[', ']'), PortValue = port } } } } },
        });
        return cluster;
    }

    private static Listener HttpListener(string name, string address, uint port, string routes)
    {
        var hcm = new HttpConnectionManager
        {
            StatPrefix = name.Replace('-', '_'),
            Rds = new Rds { RouteConfigName = routes, ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 } },
        };
        // Rate limits are set per route; the filter itself allows everything by default.
        hcm.HttpFilters.Add(new HttpFilter { Name = LocalRateLimitFilter, TypedConfig = Any.Pack(new LocalRateLimit { StatPrefix = $"{hcm.StatPrefix}_ratelimit" }) });
        hcm.HttpFilters.Add(new HttpFilter { Name = "envoy.filters.http.router", TypedConfig = Any.Pack(new Router()) });
        hcm.AccessLog.Add(new AccessLog { Name = "envoy.access_loggers.file", TypedConfig = Any.Pack(new FileAccessLog { Path = "/dev/stdout" }) });
        return new Listener
        {
            Name = name,
            Address = new Address { SocketAddress = new SocketAddress { Address = address, PortValue = port } },
            FilterChains = { new FilterChain { Filters = { new Filter { Name = "envoy.filters.network.http_connection_manager", TypedConfig = Any.Pack(hcm) } } } },
        };
    }

    private static LocalRateLimit TokenBucketLimit(string statPrefix, RateLimit limit)
    {
        var always = new RuntimeFractionalPercent { DefaultValue = new FractionalPercent { Numerator = 100, Denominator = FractionalPercent.Types.DenominatorType.Hundred } };
        return new LocalRateLimit
        {
            StatPrefix = statPrefix,
            TokenBucket = new TokenBucket
            {
                MaxTokens = (uint)(limit.Burst ?? limit.RequestsPerSecond),
                TokensPerFill = (uint)limit.RequestsPerSecond,
                FillInterval = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
            },
            FilterEnabled = always,
            FilterEnforced = always,
        };
    }

    private static (string Host, uint Port) SplitHostPort(string hostPort)
    {
        var colon = hostPort.LastIndexOf(':');
        return (hostPort[..colon], uint.Parse(hostPort[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
