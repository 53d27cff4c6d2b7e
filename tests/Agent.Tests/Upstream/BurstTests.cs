using System.Threading.Channels;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Agent.Tests.Infrastructure;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Xds.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;
using Cluster = Envoy.Config.Cluster.V3.Cluster;

namespace ZenMesh.Agent.Tests.Upstream;

/// <summary>
/// The agent takes a burst of responses (one per type) as one change from the protocol itself:
/// each response names the snapshot it belongs to, and the burst is whole when what the agent holds
/// is that snapshot. No clock decides it, so an agent on a frozen fake clock still publishes, once.
/// And a response the agent cannot apply is NACKed with the reason on the same stream, which goes on.
/// </summary>
public sealed class BurstTests : IAsyncLifetime
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-burst-").FullName;
    private readonly Channel<DeltaDiscoveryResponse> _toAgent = Channel.CreateUnbounded<DeltaDiscoveryResponse>();
    private readonly Channel<DeltaDiscoveryRequest> _fromAgent = Channel.CreateUnbounded<DeltaDiscoveryRequest>();
    private WebApplication _controlPlane = null!;

    /// <summary>A control plane whose every response the test writes, and whose every request it reads.</summary>
    private sealed class ScriptedAds(BurstTests test) : Ads.AggregatedDiscoveryServiceBase
    {
        public override async Task DeltaAggregatedResources(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context)
        {
            var reading = Task.Run(async () =>
            {
                await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
                {
                    await test._fromAgent.Writer.WriteAsync(request);
                }
            });
            await foreach (var response in test._toAgent.Reader.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(response);
            }
            await reading;
        }
    }

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(this);
        _controlPlane = builder.Build();
        _controlPlane.MapGrpcService<ScriptedAds>();
        await _controlPlane.StartAsync();
    }

    public async Task DisposeAsync()
    {
        _toAgent.Writer.TryComplete();
        await _controlPlane.DisposeAsync();
        Directory.Delete(_stateDir, recursive: true);
    }

    private static Cluster StaticCluster(string name, int port) => new()
    {
        Name = name,
        Type = Cluster.Types.DiscoveryType.Static,
        ConnectTimeout = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
        LoadAssignment = new Envoy.Config.Endpoint.V3.ClusterLoadAssignment
        {
            ClusterName = name,
            Endpoints = { new Envoy.Config.Endpoint.V3.LocalityLbEndpoints { LbEndpoints = { new Envoy.Config.Endpoint.V3.LbEndpoint { Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = new Envoy.Config.Core.V3.Address { SocketAddress = new Envoy.Config.Core.V3.SocketAddress { Address = "127.0.0.1", PortValue = (uint)port } } } } } } },
        },
    };

    private static DeltaDiscoveryResponse Response(string typeUrl, string snapshotVersion, string nonce, params XdsResource[] resources)
    {
        var response = new DeltaDiscoveryResponse { TypeUrl = typeUrl, SystemVersionInfo = snapshotVersion, Nonce = nonce };
        response.Resources.AddRange(resources.Select(r => r.Delta));
        return response;
    }

    /// <summary>Requests from the agent until one ACKs <paramref name="nonce"/>.</summary>
    private async Task AckedAsync(string nonce)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        while (true)
        {
            var request = await _fromAgent.Reader.ReadAsync(timeout.Token);
            if (request.ResponseNonce == nonce)
            {
                Assert.Null(request.ErrorDetail);
                return;
            }
        }
    }

    /// <summary>Requests from the agent until one answers <paramref name="nonce"/>: its error, if it NACKs it.</summary>
    private async Task<(DeltaDiscoveryRequest Reply, List<DeltaDiscoveryRequest> Before)> AnsweredAsync(string nonce)
    {
        using var timeout = new CancellationTokenSource(TestTimeouts.Default);
        var before = new List<DeltaDiscoveryRequest>();
        while (true)
        {
            var request = await _fromAgent.Reader.ReadAsync(timeout.Token);
            if (request.ResponseNonce == nonce)
            {
                return (request, before);
            }
            before.Add(request);
        }
    }

    private string Address => _controlPlane.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();

    [Fact]
    public async Task AResponseItCannotApply_IsNackedWithTheReason_OnTheSameStream_AndTheNextIsTaken()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var agent = await RunningAgent.StartAsync(Address, _stateDir, clock);
        var malformed = Response(TypeUrls.Cluster, "v-bad", "n1", XdsResource.Create(StaticCluster("c1", 9001)));
        // A TTL must be positive: this one is not.
        malformed.Resources[0].Ttl = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(-1));

        await _toAgent.Writer.WriteAsync(malformed);
        var (nack, _) = await AnsweredAsync("n1");

        Assert.NotNull(nack.ErrorDetail);
        Assert.Contains("A TTL must be positive", nack.ErrorDetail.Message, StringComparison.Ordinal);
        var good = XdsResource.Create(StaticCluster("c2", 9002));
        await _toAgent.Writer.WriteAsync(Response(TypeUrls.Cluster, Snapshot.Create([good]).Version, "n2", good));
        var (ack, between) = await AnsweredAsync("n2");
        Assert.Null(ack.ErrorDetail);
        Assert.DoesNotContain(between, r => r.Node is not null);
        var store = agent.Services.GetRequiredService<GenerationStore>();
        Generation? newest = null;
        await TestTimeouts.Eventually(() => Task.FromResult((newest = store.LoadNewest()) is not null), "the next state stored as a generation");
        Assert.Equal(["c2"], newest!.Snapshot.Get(TypeUrls.Cluster).Resources.Keys);
    }

    [Fact]
    public async Task ABurstOfTwoTypes_IsPublishedAndStoredOnce_WhenWhole_WithTheAgentsClockNeverMoving()
    {
        // Each half of the change is consistent on its own, so only the burst rule can tell them apart.
        var clusters = new[] { XdsResource.Create(StaticCluster("c1", 9001)), XdsResource.Create(StaticCluster("c2", 9002)) };
        var policy = XdsResource.Create(new ZenMesh.Contracts.V1.FlowPolicy { Name = "default/f", Tenant = "default", Flow = "f", Target = "c2", Enabled = true });
        var whole = Snapshot.Create([.. clusters, policy]);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var address = _controlPlane.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.Single();
        await using var agent = await RunningAgent.StartAsync(address, _stateDir, clock);

        await _toAgent.Writer.WriteAsync(Response(TypeUrls.Cluster, whole.Version, "n1", clusters));
        await AckedAsync("n1");
        // Applied and ACKed, and long past any quiet period a wall-clock rule might use: the half it
        // holds is consistent, yet it is not the snapshot the response named, so it waits.
        await Task.Delay(200);
        await _toAgent.Writer.WriteAsync(Response(TypeUrls.FlowPolicy, whole.Version, "n2", policy));
        await AckedAsync("n2");

        var store = agent.Services.GetRequiredService<GenerationStore>();
        Generation? newest = null;
        await TestTimeouts.Eventually(() => Task.FromResult((newest = store.LoadNewest()) is not null), "the burst stored as a generation");
        Assert.Equal(1, newest!.Sequence);
        Assert.Equal(whole.Version, newest.Snapshot.Version);
        Assert.Equal(["c1", "c2"], newest.Snapshot.Get(TypeUrls.Cluster).Resources.Keys);
    }
}
