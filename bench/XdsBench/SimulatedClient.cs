using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using ZenMesh.Xds.Resources;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.XdsBench;

/// <summary>
/// One Envoy-like ADS client: CDS wildcard, then EDS by name; ACKs every response at once. Watches
/// endpoint c0's port to see the benchmark's change arrive.
/// </summary>
internal sealed class SimulatedClient(int index, GrpcChannel channel, string[] clusterNames, ChangeTracker tracker, TaskCompletionSource ready)
{
    private Node Node => new() { Id = $"bench-{index}", Cluster = "bench" };

    public async Task RunSotwAsync(CancellationToken cancellationToken)
    {
        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(LightSotwResponse.Method, null, new CallOptions(cancellationToken: cancellationToken));
        await call.RequestStream.WriteAsync(new DiscoveryRequest { Node = Node, TypeUrl = TypeUrls.Cluster }, cancellationToken);
        var subscribedEds = false;
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            tracker.Received(response.Size);
            var ack = new DiscoveryRequest { TypeUrl = response.TypeUrl, VersionInfo = response.VersionInfo, ResponseNonce = response.Nonce };
            if (response.TypeUrl == TypeUrls.Endpoint)
            {
                ack.ResourceNames.AddRange(clusterNames);
            }
            await call.RequestStream.WriteAsync(ack, cancellationToken);
            if (response.TypeUrl == TypeUrls.Cluster && !subscribedEds)
            {
                subscribedEds = true;
                await call.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Endpoint, ResourceNames = { clusterNames } }, cancellationToken);
            }
            else if (response.TypeUrl == TypeUrls.Endpoint && response.FirstResource?.Unpack<ClusterLoadAssignment>() is { ClusterName: "c0" } c0)
            {
                Observe(c0);
            }
        }
    }

    public async Task RunDeltaAsync(CancellationToken cancellationToken)
    {
        using var call = new Ads.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { Node = Node, TypeUrl = TypeUrls.Cluster }, cancellationToken);
        var subscribedEds = false;
        await foreach (var response in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            tracker.Received(response.CalculateSize());
            await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce }, cancellationToken);
            if (response.TypeUrl == TypeUrls.Cluster && !subscribedEds)
            {
                subscribedEds = true;
                await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { TypeUrl = TypeUrls.Endpoint, ResourceNamesSubscribe = { clusterNames } }, cancellationToken);
            }
            else if (response.TypeUrl == TypeUrls.Endpoint)
            {
                Observe(response.Resources.Where(r => r.Name == "c0").Select(r => r.Resource_.Unpack<ClusterLoadAssignment>()).FirstOrDefault());
            }
        }
    }

    private void Observe(ClusterLoadAssignment? c0)
    {
        if (c0 is null)
        {
            return;
        }
        ready.TrySetResult();
        var port = (int)c0.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue;
        if (port == tracker.ExpectedPort)
        {
            tracker.AckedChange(index);
        }
    }
}
