using System.Text.Json;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>The outcome of a change: refused with every problem, or what changed (possibly nothing).</summary>
public sealed record ChangeResult(IReadOnlyList<Problem> Problems, IReadOnlyList<Change> Changes)
{
    public bool Applied => Problems.Count == 0;
}

/// <summary>
/// Holds desired state and keeps the snapshot cache in step with it. A change is validated as a
/// whole, compiled, stored durably, and only then published per edge; or refused with every problem
/// and nothing changed. On start, what was stored is loaded and published before anything is served.
/// </summary>
public sealed class DesiredStateStore
{
    private readonly object _gate = new();
    private readonly ISnapshotCache _cache;
    private readonly IDesiredStatePersistence _persistence;
    private readonly EvidenceLedger _ledger;
    private volatile DesiredState _state;
    private long _revision;

    public DesiredStateStore(ISnapshotCache cache, IDesiredStatePersistence persistence, EvidenceLedger ledger)
    {
        _cache = cache;
        _persistence = persistence;
        _ledger = ledger;
        (var stored, _revision) = persistence.Load();
        var problems = DesiredStateValidator.Validate(stored);
        if (problems.Count > 0)
        {
            throw new DesiredStateLoadException(persistence.Describe(), [.. problems.Select(p => p.ToString())]);
        }
        var refused = Publish(DesiredState.Empty, stored, stored.Edges.Keys);
        if (refused.Count > 0)
        {
            throw new DesiredStateLoadException(persistence.Describe(), [.. refused.Select(p => p.ToString())]);
        }
        _state = stored;
    }

    public DesiredState Current => _state;

    /// <summary>The stored revision this replica's state and snapshots reflect.</summary>
    public long Revision => Interlocked.Read(ref _revision);

    /// <summary>Raised (outside the lock) with each edge (node id) that a change removed.</summary>
    public event Action<string>? EdgeRemoved;

    /// <summary>
    /// Catches up with changes another replica stored: reloads, and publishes the edges they touch.
    /// Returns the changes applied (none when already current).
    /// </summary>
    public IReadOnlyList<Change> Refresh()
    {
        IReadOnlyList<Change> changes;
        DesiredState before;
        lock (_gate)
        {
            if (_persistence.Revision() == _revision)
            {
                return [];
            }
            (changes, before) = CatchUp();
        }
        RaiseRemoved(before, _state);
        return changes;
    }

    /// <summary>
    /// Applies a change (see <see cref="TryChange"/>) and writes each resulting change to the evidence
    /// ledger, with who made it and the version each of the tenant's edges now has, before returning.
    /// </summary>
    public async Task<ChangeResult> ChangeAsync(Func<DesiredState, DesiredState> change, string actor, bool dryRun = false)
    {
        var result = TryChange(change, dryRun);
        if (!result.Applied || dryRun)
        {
            return result;
        }
        foreach (var c in result.Changes)
        {
            var versions = _state.List(ResourceKind.Edge, c.Tenant).ToDictionary(e => Compiler.CompiledNames.NodeId(c.Tenant, e.Name), e => _cache.Current(Compiler.CompiledNames.NodeId(c.Tenant, e.Name)).Version);
            var detail = JsonSerializer.Serialize(new { action = c.Action.ToString().ToLowerInvariant(), etag = c.Spec is null ? null : Api.FlowApiJson.ETag(c.Kind, c.Spec), versions });
            await _ledger.AppendAsync(c.Tenant, "change", actor, $"{c.Kind.Plural()}/{c.Name}", detail).ConfigureAwait(false);
        }
        return result;
    }

    public ChangeResult TryChange(Func<DesiredState, DesiredState> change, bool dryRun = false)
    {
        DesiredState before;
        ChangeResult result;
        lock (_gate)
        {
            before = _state;
            result = TryChangeLocked(change, dryRun);
        }
        RaiseRemoved(before, _state);
        return result;
    }

    private ChangeResult TryChangeLocked(Func<DesiredState, DesiredState> change, bool dryRun)
    {
        while (true)
        {
            var before = _state;
            var after = change(before);
            var changes = DesiredStateDiff.Between(before, after);
            var problems = DesiredStateValidator.ValidateChange(after, changes.Select(c => (c.Kind, c.Tenant, c.Name, c.Action == ChangeAction.Deleted)));
            if (problems.Count > 0 || dryRun || changes.Count == 0)
            {
                return new(problems, problems.Count > 0 ? [] : changes);
            }
            long revision;
            try
            {
                // Durable before visible: an edge never runs config that a restart would forget.
                revision = _persistence.Save(changes, _revision);
            }
            catch (StaleRevisionException)
            {
                // Another replica got there first: take its changes and judge this one again against
                // them (validation, If-Match), as if it had arrived a moment later.
                CatchUp();
                continue;
            }
            var refused = Publish(before, after, AffectedEdges(before, after, changes));
            if (refused.Count > 0)
            {
                Interlocked.Exchange(ref _revision, _persistence.Save(DesiredStateDiff.Between(after, before), revision));
                Publish(after, before, AffectedEdges(after, before, changes));
                return new(refused, []);
            }
            _state = after;
            Interlocked.Exchange(ref _revision, revision);
            return new([], changes);
        }
    }

    private (IReadOnlyList<Change> Changes, DesiredState Before) CatchUp()
    {
        var (stored, revision) = _persistence.Load();
        var before = _state;
        var changes = DesiredStateDiff.Between(before, stored);
        // What another replica stored was validated and compiled there; a refusal here would be a
        // compiler difference between versions, and serving the rest beats serving nothing.
        Publish(before, stored, AffectedEdges(before, stored, changes));
        _state = stored;
        Interlocked.Exchange(ref _revision, revision);
        return (changes, before);
    }

    private void RaiseRemoved(DesiredState before, DesiredState after)
    {
        if (EdgeRemoved is not { } removed || ReferenceEquals(before.Edges, after.Edges))
        {
            return;
        }
        foreach (var node in before.Edges.Keys.Where(k => !after.Edges.ContainsKey(k)))
        {
            removed(node);
        }
    }

    /// <summary>
    /// The edges (node ids) whose config a change can alter, from the old and the new spec of each
    /// changed resource: an edge itself, an endpoint's edge, a target's edge (where its flows compile,
    /// so a moved target moves them), a flow's target's edge and its endpoint's edge (whose
    /// EndpointPolicy lists the flows it feeds).
    /// Only these are recompiled, so a one-flow change costs one edge, not the whole mesh.
    /// </summary>
    public static IReadOnlySet<string> AffectedEdges(DesiredState before, DesiredState after, IReadOnlyList<Change> changes)
    {
        var edges = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in changes)
        {
            foreach (var state in new[] { before, after })
            {
                var spec = state.Find(c.Kind, c.Tenant, c.Name);
                var edge = spec switch
                {
                    Edge => c.Name,
                    Model.Endpoint e => e.Edge,
                    Target t => t.Edge,
                    Flow f => state.Targets.GetValueOrDefault(DesiredState.Key(c.Tenant, f.Target))?.Edge,
                    _ => null,
                };
                if (edge is not null)
                {
                    edges.Add(DesiredState.Key(c.Tenant, edge));
                }
                if (spec is Flow feeding && state.Endpoints.GetValueOrDefault(DesiredState.Key(c.Tenant, feeding.Endpoint)) is { } source)
                {
                    // The endpoint's EndpointPolicy lists the flows it feeds.
                    edges.Add(DesiredState.Key(c.Tenant, source.Edge));
                }
            }
        }
        return edges;
    }

    private List<Problem> Publish(DesiredState before, DesiredState after, IEnumerable<string> edges)
    {
        var refused = new List<Problem>();
        foreach (var node in edges.Where(after.Edges.ContainsKey))
        {
            var (tenant, edge) = DesiredState.Split(node);
            var update = _cache.Publish(node, FlowCompiler.CompileEdge(after, tenant, edge));
            if (!update.Accepted)
            {
                // The compiler produced something inconsistent: a ZenMesh bug, never pushed.
                refused.AddRange(update.Errors.Select(e => new Problem($"edges/{edge}", "", $"compiled config was refused: {e}. This is a ZenMesh bug; please report it.")));
            }
        }
        foreach (var removed in before.Edges.Keys.Where(k => !after.Edges.ContainsKey(k)))
        {
            _cache.Clear(removed);
        }
        return refused;
    }
}
