namespace ZenMesh.XdsServer.Sources;

/// <summary>What the file source last did, for the admin API: the version it serves and the last refusal.</summary>
public sealed record ResourceFileStatus(
    string? Path,
    string? ServingVersion,
    DateTimeOffset? LoadedAt,
    IReadOnlyList<string> LastErrors,
    DateTimeOffset? LastErrorAt)
{
    public static readonly ResourceFileStatus None = new(null, null, null, [], null);
}
