using ZenMesh.Contracts.V1;

namespace ZenMesh.Agent.Status;

/// <summary>
/// The secrets an edge's config names (endpoint verification keys, flow signing keys) against the
/// edge's secret store: a directory (ZENMESH_SECRETS_DIR, or a mounted Kubernetes Secret) holding
/// one file per secret name. The agent never reads a secret's value, only whether it is there.
/// </summary>
public static class SecretInventory
{
    public static IReadOnlyList<string> Referenced(Snapshot snapshot)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var resource in snapshot.Get(TypeUrls.EndpointPolicy).Resources.Values)
        {
            names.Add(resource.Body.Unpack<EndpointPolicy>().SecretRef);
        }
        foreach (var resource in snapshot.Get(TypeUrls.FlowPolicy).Resources.Values)
        {
            names.Add(resource.Body.Unpack<FlowPolicy>().SigningSecretRef);
        }
        names.UnionWith(LastKnownGood.EdgeSecrets.Referenced(snapshot).Select(r => r.Name));
        names.Remove("");
        return [.. names];
    }

    /// <summary>Referenced names with no file in <paramref name="secretsDir"/>; all of them when there is no store.</summary>
    public static IReadOnlyList<string> Missing(Snapshot snapshot, string? secretsDir) =>
        [.. Referenced(snapshot).Where(name => secretsDir is null || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or ".." || !File.Exists(Path.Combine(secretsDir, name)))];
}
