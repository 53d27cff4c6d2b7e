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
/// whole, compiled, and its compiled config checked, all free of side effects; then stored
/// durably; then published per edge. Or refused with every problem, and nothing stored or changed.
/// On start, what was stored is loaded and published before anything is served.
/// </summary>
/// <remarks>
/// No I/O under the lock: it covers only swapping in a new state and publishing its compiled
/// snapshots, so the order of publishes follows the order of revisions. Saving is optimistic: it
/// names the revision the change was judged against, and a change that lost the race (to another
/// request or another replica) catches up and is judged again.
/// </remarks>
public sealed class DesiredStateStore
{
    private readonly object _gate = new();
    private readonly ISnapshotCache _cache;
    private readonly IDesiredStatePersistence _persistence;
    private readonly EvidenceLedger _ledger;
    private volatile Held _held;

    /// <summary>A state and the stored revision it is, swapped as one.</summary>
    private sealed record Held(DesiredState State, long Revision);

    /// <summary>A state's compiled snapshots for the edges a change alters, each checked, and the edges it removes.</summary>
    private sealed record Compiled(IReadOnlyDictionary<string, Snapshot> Snapshots, IReadOnlyList<string> Removed, IReadOnlyList<Problem> Refused);

    public DesiredStateStore(ISnapshotCache cache, IDesiredStatePersistence persistence, EvidenceLedger ledger)
    {
        _cache = cache;
        _persistence = persistence;
        _ledger = ledger;
        var (stored, revision) = persistence.Load();
        var problems = DesiredStateValidator.Validate(stored);
        if (problems.Count > 0)
        {
            throw new DesiredStateLoadException(persistence.Describe(), [.. problems.Select(p => p.ToString())]);
        }
        var compiled = Compile(DesiredState.Empty, stored, stored.Edges.Keys);
        if (compiled.Refused.Count > 0)
        {
            throw new DesiredStateLoadException(persistence.Describe(), [.. compiled.Refused.Select(p => p.ToString())]);
        }
        _held = new Held(DesiredState.Empty, -1);
        Publish(new Held(stored, revision), compiled);
    }

    public DesiredState Current => _held.State;

    /// <summary>The stored revision this replica's state and snapshots reflect.</summary>
    public long Revision => _held.Revision;

    /// <summary>Raised (outside the lock) with each edge (node id) that a change removed.</summary>
    public event Action<string>? EdgeRemoved;

    /// <summary>
    /// Catches up with changes another replica stored: reloads, and publishes the edges they touch.
    /// Returns the changes applied (none when already current).
    /// </summary>
    public IReadOnlyList<Change> Refresh() => _persistence.Revision() == _held.Revision ? [] : CatchUp();

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
        var state = _held.State;
        foreach (var c in result.Changes)
        {
            var versions = state.List(ResourceKind.Edge, c.Tenant).ToDictionary(e => Compiler.CompiledNames.NodeId(c.Tenant, e.Name), e => _cache.Current(Compiler.CompiledNames.NodeId(c.Tenant, e.Name)).Version);
            var detail = JsonSerializer.Serialize(new { action = c.Action.ToString().ToLowerInvariant(), etag = c.Spec is null ? null : Api.FlowApiJson.ETag(c.Kind, c.Spec), versions });
            await _ledger.AppendAsync(c.Tenant, "change", actor, $"{c.Kind.Plural()}/{c.Name}", detail).ConfigureAwait(false);
        }
        return result;
    }

    /// <summary>
    /// Validates, compiles and checks the change (a dry run stops there), saves it, then publishes it.
    /// Refused with every problem, and nothing stored, when any of the three finds one.
    /// </summary>
    public ChangeResult TryChange(Func<DesiredState, DesiredState> change, bool dryRun = false)
    {
        while (true)
        {
            var held = _held;
            var after = change(held.State);
            var changes = DesiredStateDiff.Between(held.State, after);
            var problems = DesiredStateValidator.ValidateChange(after, changes.Select(c => (c.Kind, c.Tenant, c.Name, c.Action == ChangeAction.Deleted)));
            if (problems.Count > 0 || changes.Count == 0)
            {
                return new(problems, []);
            }
            var compiled = Compile(held.State, after, AffectedEdges(held.State, after, changes));
            if (compiled.Refused.Count > 0 || dryRun)
            {
                return new(compiled.Refused, compiled.Refused.Count > 0 ? [] : changes);
            }
            long revision;
            try
            {
                // Durable before visible: an edge never runs config that a restart would forget.
                revision = _persistence.Save(changes, held.Revision);
            }
            catch (StaleRevisionException)
            {
                // Another request or replica got there first: take its changes and judge this one
                // again against them (validation, If-Match), as if it had arrived a moment later.
                CatchUp();
                continue;
            }
            Publish(new Held(after, revision), compiled);
            return new([], changes);
        }
    }

    /// <summary>Loads what is stored and, when it is newer than what is held, publishes the edges it changed.</summary>
    private IReadOnlyList<Change> CatchUp()
    {
        var (stored, revision) = _persistence.Load();
        while (true)
        {
            var held = _held;
            if (revision <= held.Revision)
            {
                return [];
            }
            var changes = DesiredStateDiff.Between(held.State, stored);
            // What another replica stored was validated and compiled there; an edge refused here
            // would be a compiler difference between versions, and it keeps what it has.
            var compiled = Compile(held.State, stored, AffectedEdges(held.State, stored, changes));
            if (Publish(new Held(stored, revision), compiled, expected: held))
            {
                return changes;
            }
        }
    }

    /// <summary>
    /// Swaps in <paramref name="next"/> and publishes its snapshots, unless what is held is already
    /// as new (a catch-up got there first) or, with <paramref name="expected"/>, is no longer that.
    /// </summary>
    private bool Publish(Held next, Compiled compiled, Held? expected = null)
    {
        DesiredState before;
        lock (_gate)
        {
            before = _held.State;
            if (next.Revision <= _held.Revision)
            {
                return true;
            }
            if (expected is not null && !ReferenceEquals(_held, expected))
            {
                return false;
            }
            foreach (var (node, snapshot) in compiled.Snapshots)
            {
                _cache.Publish(node, snapshot, alreadyChecked: true);
            }
            foreach (var node in compiled.Removed)
            {
                _cache.Clear(node);
            }
            _held = next;
        }
        RaiseRemoved(before, next.State);
        return true;
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

    /// <summary>Compiles <paramref name="edges"/> of <paramref name="after"/> and checks each snapshot; nothing is published.</summary>
    private Compiled Compile(DesiredState before, DesiredState after, IEnumerable<string> edges)
    {
        var snapshots = new Dictionary<string, Snapshot>(StringComparer.Ordinal);
        var refused = new List<Problem>();
        foreach (var node in edges.Where(after.Edges.ContainsKey))
        {
            var (tenant, edge) = DesiredState.Split(node);
            var snapshot = FlowCompiler.CompileEdge(after, tenant, edge);
            if (_cache.Check(snapshot) is { Count: > 0 } errors)
            {
                // The compiler produced something inconsistent: a ZenMesh bug, never stored nor pushed.
                refused.AddRange(errors.Select(e => new Problem($"edges/{edge}", "", $"compiled config was refused: {e}. This is a ZenMesh bug; please report it.")));
                continue;
            }
            snapshots[node] = snapshot;
        }
        return new Compiled(snapshots, [.. before.Edges.Keys.Where(k => !after.Edges.ContainsKey(k))], refused);
    }
}
