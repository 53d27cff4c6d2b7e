using System.Collections.Immutable;
using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>What differs between two desired states, resource by resource (compared by content).</summary>
public static class DesiredStateDiff
{
    public static IReadOnlyList<Change> Between(DesiredState before, DesiredState after)
    {
        var changes = new List<Change>();
        Compare(ResourceKind.Edge, before.Edges, after.Edges, changes);
        Compare(ResourceKind.Endpoint, before.Endpoints, after.Endpoints, changes);
        Compare(ResourceKind.Target, before.Targets, after.Targets, changes);
        Compare(ResourceKind.Flow, before.Flows, after.Flows, changes);
        return changes;
    }

    private static void Compare<T>(ResourceKind kind, ImmutableSortedDictionary<string, T> before, ImmutableSortedDictionary<string, T> after, List<Change> changes)
        where T : class
    {
        if (ReferenceEquals(before, after))
        {
            return;
        }
        foreach (var (key, spec) in after)
        {
            var (tenant, name) = DesiredState.Split(key);
            if (!before.TryGetValue(key, out var old))
            {
                changes.Add(new(kind, tenant, name, ChangeAction.Created, spec));
            }
            else if (!ReferenceEquals(old, spec) && FlowApiJson.ETag(kind, old) != FlowApiJson.ETag(kind, spec))
            {
                changes.Add(new(kind, tenant, name, ChangeAction.Updated, spec));
            }
        }
        foreach (var key in before.Keys.Where(k => !after.ContainsKey(k)))
        {
            var (tenant, name) = DesiredState.Split(key);
            changes.Add(new(kind, tenant, name, ChangeAction.Deleted, null));
        }
    }
}
