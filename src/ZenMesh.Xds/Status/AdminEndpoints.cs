using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Protocol;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Status;

/// <summary>The HTTP admin view of xDS: who is connected and what each holds.</summary>
internal static class AdminEndpoints
{
    public static IEndpointConventionBuilder MapXdsAdmin(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin/xds");
        admin.MapGet("/clients", (ClientRegistry registry) => Results.Json(registry.Clients().Select(ToJson)));
        admin.MapGet("/nacks", (ClientRegistry registry) => Results.Json(registry.RecentNacks.Reverse().Select(ToJson)));
        admin.MapGet("/snapshot", (ISnapshotCache cache, string? node) =>
        {
            var snapshot = cache.Current(node ?? "");
            return Results.Json(new
            {
                version = snapshot.Version,
                source = snapshot.Source,
                types = snapshot.Types.OrderBy(t => TypeUrls.Rank(t.Key)).Select(t => new
                {
                    typeUrl = t.Key,
                    version = t.Value.Version,
                    resources = t.Value.Resources.Values.Select(r => new { name = r.Name, version = r.Version }),
                }),
            });
        });
        return admin;
    }

    private static object ToJson(ClientView client) => new
    {
        id = client.Node.Id,
        cluster = client.Node.Cluster,
        streamId = client.StreamId,
        stream = client.Kind,
        connectedAt = client.ConnectedAt,
        types = client.Types.Values.OrderBy(t => TypeUrls.Rank(t.TypeUrl)).Select(t => new
        {
            typeUrl = t.TypeUrl,
            type = TypeUrls.ShortName(t.TypeUrl),
            wildcard = t.Wildcard,
            subscribed = t.Names,
            lastSentVersion = t.LastSentVersion,
            lastSentAt = t.LastSentAt,
            lastAckedVersion = t.AckedVersion,
            desiredVersion = t.DesiredVersion,
            status = t.State.ToString().ToUpperInvariant(),
            lastNack = t.LastNack is null ? null : ToJson(t.LastNack),
        }),
        lastNack = client.LastNack is null ? null : ToJson(client.LastNack),
    };

    private static object ToJson(NackRecord nack) => new
    {
        node = nack.NodeId,
        typeUrl = nack.TypeUrl,
        version = nack.Version,
        nonce = nack.Nonce,
        code = nack.Code,
        message = nack.Message,
        at = nack.At,
    };
}
