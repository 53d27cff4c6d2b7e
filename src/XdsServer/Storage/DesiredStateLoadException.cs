namespace ZenMesh.XdsServer.Storage;

/// <summary>Stored desired state could not be read or is invalid; the server refuses to start on it.</summary>
public sealed class DesiredStateLoadException(string where, IReadOnlyList<string> problems)
    : Exception($"Stored desired state in {where} cannot be served ({problems.Count} problem{(problems.Count == 1 ? "" : "s")}):{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", problems)}")
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
