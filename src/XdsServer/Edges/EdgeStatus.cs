using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.Xds.Status;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Edges;

/// <summary>
/// What the control plane knows of each of a tenant's edges, from its streams, its snapshot and its
/// agent's last report: one view for the status API and the console.
/// </summary>
public sealed class EdgeStatus(DesiredStateStore store, ClientRegistry registry, ISnapshotCache cache, EdgeReportStore reports, TimeProvider time)
{
    /// <summary>One edge as the status API and the console show it (the API's JSON names are these, camel-cased).</summary>
    public sealed record View(
        string Edge,
        string Node,
        bool Online,
        int Streams,
        string ConfigVersion,
        bool Synced,
        IReadOnlyList<TypeView> Types,
        double StaleSeconds,
        NackRecord? LastNack,
        IReadOnlyList<string> InsecureTargets,
        AgentView? Agent);

    public sealed record TypeView(string Type, string? Pushed, string? Acked, string Status);

    /// <summary>What the edge's agent last said: its own staleness (it may serve last-known-good while this server is unreachable to it), clients, missing secrets.</summary>
    public sealed record AgentView(
        DateTimeOffset ReportedAt,
        double ReportAgeSeconds,
        string Version,
        string EnvoyVersion,
        string ServedVersion,
        long Generation,
        double StaleSeconds,
        IReadOnlyList<string> MissingSecrets,
        IReadOnlyList<LocalClientView> Clients,
        LocalNackView? LastLocalNack);

    public sealed record LocalClientView(string Node, string UserAgent, IReadOnlyDictionary<string, string> Acked);

    public sealed record LocalNackView(string Node, string Type, string Message, DateTimeOffset? At);

    /// <summary>One of the tenant's edges, or null when it has none of that name.</summary>
    public View? Of(string tenant, string edge) => For(tenant, edge) is [var view] ? view : null;

    /// <summary>The tenant's edges (only <paramref name="only"/>, when given).</summary>
    public IReadOnlyList<View> For(string tenant, string? only = null)
    {
        var clients = registry.Clients();
        var now = time.GetUtcNow();
        var agents = reports.ForTenant(tenant);
        var state = store.Current;
        return [.. state.List(ResourceKind.Edge, tenant).Where(e => only is null || e.Name == only).Select(e =>
        {
            var node = Compiler.CompiledNames.NodeId(tenant, e.Name);
            var streams = clients.Where(c => c.Node.Id == node).ToList();
            var types = streams.SelectMany(s => s.Types.Values).ToList();
            var oldestUnacked = types.Where(t => t.State is SyncState.Stale or SyncState.Nacked && t.LastSentAt is not null).Select(t => t.LastSentAt!.Value).DefaultIfEmpty().Min();
            var nack = types.Select(t => t.LastNack).Where(n => n is not null).MaxBy(n => n!.At);
            return new View(
                e.Name,
                node,
                Online: streams.Count > 0,
                Streams: streams.Count,
                ConfigVersion: cache.Current(node).Version,
                Synced: streams.Count > 0 && types.All(t => t.State is SyncState.Synced or SyncState.NotSent),
                Types: [.. types.Select(t => new TypeView(TypeUrls.ShortName(t.TypeUrl), t.LastSentVersion, t.AckedVersion, t.State.ToString().ToUpperInvariant()))],
                StaleSeconds: oldestUnacked == default ? 0 : (now - oldestUnacked).TotalSeconds,
                LastNack: nack,
                // Said on every status read: deliveries to these are readable and changeable on the path.
                InsecureTargets: [.. state.List(ResourceKind.Target, tenant).Where(t => t.Spec is Target { Tls.InsecureSkipVerify: true } target && target.Edge == e.Name).Select(t => t.Name)],
                Agent: agents.TryGetValue(node, out var r) ? Agent(r.Report, r.At, now) : null);
        })];
    }

    private static AgentView Agent(ZenMesh.Contracts.V1.EdgeReport report, DateTimeOffset at, DateTimeOffset now) => new(
        at,
        Math.Round((now - at).TotalSeconds, 3),
        report.AgentVersion,
        report.EnvoyVersion,
        report.ServedVersion,
        report.Generation,
        report.StaleSeconds,
        [.. report.MissingSecrets],
        [.. report.Clients.Select(c => new LocalClientView(c.NodeId, c.UserAgent, c.Acked))],
        report.LastLocalNack is { } n ? new LocalNackView(n.NodeId, TypeUrls.ShortName(n.TypeUrl), n.Message, n.At?.ToDateTimeOffset()) : null);
}
