namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Earlier versions could keep events in a log engine of their own ({data-dir}/log/*.seg). This one
/// cannot read it; starting an empty store beside it would leave its undelivered jobs behind, so a
/// data directory that still holds it is refused, saying how to drain it first.
/// </summary>
public static class RemovedLogStore
{
    public static void RefuseLeftovers(string dataDir)
    {
        var log = Path.Combine(dataDir, "log");
        if (Directory.Exists(log) && Directory.EnumerateFiles(log, "*.seg").Any())
        {
            var full = Path.GetFullPath(log);
            throw new InvalidOperationException(
                $"the data directory {Path.GetFullPath(dataDir)} holds events of the log store ({full}), which this version no longer has (the embedded store is SQLite now), "
                + "and starting beside them would leave their undelivered jobs behind. Drain it first: run the previous version on this data directory until its /status shows no open jobs "
                + $"(the egress has taken every one), then move {full} away and start this version; or give this version a --data-dir of its own.");
        }
    }
}
