using ZenMesh.XdsServer.Cache;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Api;

/// <summary>
/// Holds desired state (in memory in this version; a durable store follows) and keeps the snapshot
/// cache in step with it: a change is validated as a whole, compiled, and published per edge, or
/// refused with every problem and nothing changed.
/// </summary>
public sealed class DesiredStateStore(ISnapshotCache cache)
{
    private readonly object _gate = new();
    private volatile DesiredState _state = DesiredState.Empty;

    public DesiredState Current => _state;

    /// <summary>Applies a change unless the resulting state has problems; returns them (empty when applied).</summary>
    public IReadOnlyList<Problem> TryChange(Func<DesiredState, DesiredState> change, bool dryRun = false)
    {
        lock (_gate)
        {
            var before = _state;
            var after = change(before);
            var problems = DesiredStateValidator.Validate(after);
            if (problems.Count > 0 || dryRun)
            {
                return problems;
            }
            var compiled = FlowCompiler.Compile(after);
            foreach (var (node, snapshot) in compiled)
            {
                var update = cache.Publish(node, snapshot);
                if (!update.Accepted)
                {
                    // The compiler produced something inconsistent: a bug, never pushed.
                    return [.. update.Errors.Select(e => new Problem($"edges/{DesiredState.Split(node).Name}", "", $"compiled config was refused: {e}. This is a ZenMesh bug; please report it."))];
                }
            }
            foreach (var removed in before.Edges.Keys.Where(k => !after.Edges.ContainsKey(k)))
            {
                cache.Clear(removed);
            }
            _state = after;
            return [];
        }
    }
}
