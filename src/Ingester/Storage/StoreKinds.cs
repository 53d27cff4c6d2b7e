namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The two embedded stores keep different files in the data directory (events.db; log/*.seg). A
/// store opened where the other one already keeps events would start empty beside it, and the events
/// and undelivered jobs there would never be delivered: refused, saying what to do instead.
/// </summary>
public static class StoreKinds
{
    /// <summary>
    /// The store to open: the one asked for, else the one whose events the data directory holds (an
    /// ingester upgraded in place keeps its SQLite store), else the log.
    /// </summary>
    public static string Resolve(string dataDir, string? asked) =>
        asked ?? (File.Exists(Path.Combine(dataDir, "events.db")) ? "sqlite" : "log");

    public static void RefuseSwitch(string dataDir, string to)
    {
        var sqlite = Path.Combine(dataDir, "events.db");
        var log = Path.Combine(dataDir, "log");
        var other = to == "log"
            ? File.Exists(sqlite) && !HasSegments(log) ? ("sqlite", sqlite) : default
            : !File.Exists(sqlite) && HasSegments(log) ? ("log", log) : default;
        if (other.Item1 is { } kind)
        {
            throw new InvalidOperationException(
                $"the data directory {Path.GetFullPath(dataDir)} holds the {kind} store's events ({Path.GetFullPath(other.Item2)}), and --store {to} would start an empty store beside them, "
                + $"leaving their undelivered jobs behind; run with --store {kind}, or give --store {to} a --data-dir of its own");
        }
    }

    private static bool HasSegments(string logDirectory) =>
        Directory.Exists(logDirectory) && Directory.EnumerateFiles(logDirectory, "*.seg").Any();
}
