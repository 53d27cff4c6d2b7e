namespace ZenMesh.Xds.Cache;

/// <summary>The outcome of publishing a snapshot: accepted, or refused with every reason.</summary>
public sealed record SnapshotUpdate(bool Accepted, string Version, IReadOnlyList<string> Errors)
{
    public static SnapshotUpdate Ok(string version) => new(true, version, []);
    public static SnapshotUpdate Refused(string version, IReadOnlyList<string> errors) => new(false, version, errors);
}
