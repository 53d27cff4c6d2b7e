namespace ZenMesh.Cli;

/// <summary>What scripts can rely on.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>The server refused: invalid desired state, not found, unauthorized. The problems are printed.</summary>
    public const int Refused = 1;

    /// <summary>The command line itself was wrong.</summary>
    public const int Usage = 2;

    /// <summary>diff: the bundle differs from what the server holds.</summary>
    public const int ChangesPending = 3;

    /// <summary>The server could not be reached.</summary>
    public const int Unreachable = 4;
}
