using Envoy.Admin.V3;
using Envoy.Service.Status.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Status;
using Csds = Envoy.Service.Status.V3.ClientStatusDiscoveryService;

namespace ZenMesh.Xds.Services;

/// <summary>
/// CSDS: per connected node, every resource it was sent, with whether it is SYNCED, STALE or
/// NACKED (ERROR with client_status NACKED and the failure details).
/// </summary>
/// With mutual TLS an edge's credential shows that edge's own clients only.
internal sealed class ClientStatusService(ClientRegistry registry, INodeAuthorizer authorization) : Csds.ClientStatusDiscoveryServiceBase
{
    public override Task<ClientStatusResponse> FetchClientStatus(ClientStatusRequest request, ServerCallContext context) =>
        Task.FromResult(Build(request, CallerOf(context)));

    public override async Task StreamClientStatus(IAsyncStreamReader<ClientStatusRequest> requestStream, IServerStreamWriter<ClientStatusResponse> responseStream, ServerCallContext context)
    {
        var caller = CallerOf(context);
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
        {
            await responseStream.WriteAsync(Build(request, caller), context.CancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The edge whose clients the caller may see, or null for all (no TLS: loopback, trusted).</summary>
    private string? CallerOf(ServerCallContext context) => authorization.Required ? authorization.Authenticate(context) : null;

    private ClientStatusResponse Build(ClientStatusRequest request, string? onlyNode)
    {
        var response = new ClientStatusResponse();
        foreach (var client in registry.Clients())
        {
            if (onlyNode is not null && client.Node.Id != onlyNode)
            {
                continue;
            }
            if (request.NodeMatchers.Count > 0 && !request.NodeMatchers.Any(m => NodeMatching.Matches(m, client.Node)))
            {
                continue;
            }
            var config = new ClientConfig { Node = client.Node };
            foreach (var type in client.Types.Values.OrderBy(t => t.TypeUrl, StringComparer.Ordinal))
            {
                var (configStatus, clientStatus) = type.State switch
                {
                    SyncState.Synced => (ConfigStatus.Synced, ClientResourceStatus.Acked),
                    SyncState.Nacked => (ConfigStatus.Error, ClientResourceStatus.Nacked),
                    SyncState.Stale => (ConfigStatus.Stale, ClientResourceStatus.Requested),
                    _ => (ConfigStatus.NotSent, ClientResourceStatus.Requested),
                };
                foreach (var resource in type.Held)
                {
                    var entry = new ClientConfig.Types.GenericXdsConfig
                    {
                        TypeUrl = type.TypeUrl,
                        Name = resource.Name,
                        VersionInfo = type.LastSentVersion ?? "",
                        ConfigStatus = configStatus,
                        ClientStatus = clientStatus,
                        XdsConfig = request.ExcludeResourceContents ? null : resource.Body,
                    };
                    if (type.LastSentAt is { } sentAt)
                    {
                        entry.LastUpdated = Timestamp.FromDateTimeOffset(sentAt);
                    }
                    if (type.State == SyncState.Nacked && type.LastNack is { } nack)
                    {
                        entry.ErrorState = new UpdateFailureState
                        {
                            Details = nack.Message,
                            VersionInfo = nack.Version,
                            LastUpdateAttempt = Timestamp.FromDateTimeOffset(nack.At),
                        };
                    }
                    config.GenericXdsConfigs.Add(entry);
                }
            }
            response.Config.Add(config);
        }
        return response;
    }
}
