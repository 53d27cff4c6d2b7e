namespace ZenMesh.XdsServer.Sources;

/// <summary>Why a resources file was refused. Every problem is listed; the last good snapshot keeps serving.</summary>
public sealed class ResourceFileException(string path, IReadOnlyList<string> errors)
    : Exception($"Resources file '{path}' was refused ({errors.Count} problem{(errors.Count == 1 ? "" : "s")}):{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}")
{
    public string Path { get; } = path;
    public IReadOnlyList<string> Errors { get; } = errors;
}
