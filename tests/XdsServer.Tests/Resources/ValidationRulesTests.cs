using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Google.Protobuf.WellKnownTypes;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Model;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Sources;
using Cluster = Envoy.Config.Cluster.V3.Cluster;
using Filter = Envoy.Config.Listener.V3.Filter;
using XdsModel = ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Tests.Resources;

/// <summary>The protoc-gen-validate rules of the Envoy API, checked before anything is published.</summary>
public sealed class ValidationRulesTests
{
    [Fact]
    public void Check_BrokenCluster_NamesEveryFieldAndRule()
    {
        var cluster = new Cluster { Name = "", ConnectTimeout = Duration.FromTimeSpan(TimeSpan.Zero), LbPolicy = (Cluster.Types.LbPolicy)99 };

        Assert.Equal(
        [
            "name: must be at least 1 character(s), is '' (validate string.min_len)",
            "connect_timeout: must be greater than 0s, is 0s (validate duration.gt)",
            "lb_policy: 99 is not a defined value (validate enum.defined_only)",
        ], ValidationRules.Check(cluster));
    }

    [Fact]
    public void Check_FollowsAnyIntoTypedConfig_AndChecksRequiredOneofs()
    {
        var hcm = new HttpConnectionManager { StatPrefix = "" }; // no route specifier either
        var listener = new Listener
        {
            Name = "l",
            Address = new Address { SocketAddress = new SocketAddress { Address = "0.0.0.0", PortValue = 10000 } },
            FilterChains = { new FilterChain { Filters = { new Filter { Name = "hcm", TypedConfig = Any.Pack(hcm) } } } },
        };

        var problems = ValidationRules.Check(listener);
        Assert.Contains("filter_chains[0].filters[0].typed_config.stat_prefix: must be at least 1 character(s), is '' (validate string.min_len)", problems);
        Assert.Contains("filter_chains[0].filters[0].typed_config.route_specifier: exactly one of rds, route_config, scoped_routes must be set (validate.required)", problems);
    }

    [Fact]
    public void CompiledConfig_PassesEveryRule()
    {
        var state = DesiredState.Empty
            .With(ResourceKind.Edge, "t", "e", new Edge())
            .With(ResourceKind.Endpoint, "t", "in", new XdsModel.Endpoint { Edge = "e", Provider = "github", SecretRef = "s", RateLimit = new RateLimit { RequestsPerSecond = 5 } })
            .With(ResourceKind.Target, "t", "out", new Target { Edge = "e", Url = "https://orders.internal/hooks", Tls = new TargetTls { CaSecretRef = "ca" } })
            .With(ResourceKind.Target, "t", "checked", new Target { Edge = "e", Url = "http://10.0.0.7:9100/hooks", HealthCheck = new XdsModel.HealthCheck() })
            .With(ResourceKind.Flow, "t", "g", new Flow { Endpoint = "in", Target = "checked" })
            .With(ResourceKind.Flow, "t", "f", new Flow { Endpoint = "in", Target = "out", RateLimit = new RateLimit { RequestsPerSecond = 1 }, Retry = new XdsModel.RetryPolicy { PerTryTimeout = TimeSpan.FromSeconds(1) } });
        var snapshot = FlowCompiler.CompileEdge(state, "t", "e");

        Assert.Empty(SnapshotConsistency.Check(snapshot));
    }

    [Fact]
    public void Publish_OfAResourceThatBreaksARule_IsRefused()
    {
        var cache = new SnapshotCache();
        var update = cache.PublishDefault(Snapshot.Create([XdsResource.Create(new Cluster { Name = "c", Type = Cluster.Types.DiscoveryType.Static, ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(-1)) })]));

        Assert.False(update.Accepted);
        Assert.Equal(["CDS 'c': connect_timeout: must be greater than 0s, is -1s (validate duration.gt)"], update.Errors);
    }

    [Fact]
    public void ResourceFile_BreakingARule_IsRefusedNamingResourceFieldAndRule()
    {
        var json = """[{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c", "type": "STATIC", "connect_timeout": "0s"}]""";
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("r.json", json));
        Assert.Equal(["CDS 'c': connect_timeout: must be greater than 0s, is 0s (validate duration.gt)"], error.Errors);
    }
}
