using Envoy.Config.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using DeltaResource = Envoy.Service.Discovery.V3.Resource;

namespace ZenMesh.XdsServer.Tests.Protocol;

/// <summary>Rule 17: resources with a TTL are wrapped in Resource and kept alive by heartbeats.</summary>
public sealed class TtlHeartbeatTests : IAsyncLifetime
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(40);
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-23T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync(_time);
        var leased = XdsResource.Create(new Cluster { Name = "leased", Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Static }, Ttl);
        var forever = XdsResource.Create(new Cluster { Name = "forever", Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Static });
        _server.Publish(Snapshot.Create([leased, forever]));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Sotw_TtlResource_IsWrappedInResource_AndHeartbeatBeforeHalfItsTtl()
    {
        await using var client = _server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster);
        var response = await client.ReceiveAsync(TypeUrls.Cluster);
        var forever = response.Resources.Single(r => r.TypeUrl == TypeUrls.Cluster).Unpack<Cluster>();
        var wrapped = response.Resources.Single(r => r.TypeUrl == TypeUrls.ResourceWrapper).Unpack<DeltaResource>();
        Assert.Equal("forever", forever.Name);
        Assert.Equal("leased", wrapped.Name);
        Assert.Equal(Ttl, wrapped.Ttl.ToTimeSpan());
        Assert.Equal("leased", wrapped.Resource_.Unpack<Cluster>().Name);
        await client.AckAsync(response);
        await client.ExpectNoResponseAsync("to the ACK"); // the server has finished the pass that armed its heartbeat timer

        _time.Advance(Ttl / 4);
        await client.ExpectNoResponseAsync("before half the TTL has passed");

        _time.Advance(Ttl / 4);
        var heartbeat = await client.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(response.VersionInfo, heartbeat.VersionInfo);
        var beat = Assert.Single(heartbeat.Resources).Unpack<DeltaResource>();
        Assert.Equal("leased", beat.Name);
        Assert.Null(beat.Resource_);
        Assert.Equal(wrapped.Version, beat.Version);
        Assert.Equal(Ttl, beat.Ttl.ToTimeSpan());
    }

    [Fact]
    public async Task Delta_TtlResource_CarriesItsTtl_AndHeartbeatsHaveNoBody()
    {
        await using var client = _server.Delta();
        await client.SubscribeAsync(TypeUrls.Cluster);
        var response = await client.ReceiveAsync(TypeUrls.Cluster);
        var leased = response.Resources.Single(r => r.Name == "leased");
        Assert.Equal(Ttl, leased.Ttl.ToTimeSpan());
        Assert.Null(response.Resources.Single(r => r.Name == "forever").Ttl);
        await client.AckAsync(response);
        await client.ExpectNoResponseAsync("to the ACK"); // the server has finished the pass that armed its heartbeat timer

        _time.Advance(Ttl / 2);
        var heartbeat = await client.ReceiveAsync(TypeUrls.Cluster);
        var beat = Assert.Single(heartbeat.Resources);
        Assert.Equal(("leased", leased.Version), (beat.Name, beat.Version));
        Assert.Null(beat.Resource_);
        Assert.Empty(heartbeat.RemovedResources);
    }

    [Fact]
    public async Task Sotw_NoTtlResourcesHeld_NoHeartbeats()
    {
        await using var client = _server.Sotw();
        await client.RequestAsync(TypeUrls.Cluster, "forever");
        await client.AckAsync(await client.ReceiveAsync(TypeUrls.Cluster), "forever");
        await client.ExpectNoResponseAsync("to the ACK");

        _time.Advance(Ttl * 3);
        await client.ExpectNoResponseAsync("for a client that holds nothing with a TTL");
    }
}
