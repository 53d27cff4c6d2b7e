using System.Diagnostics;
using ZenMesh.CompilerBench;
using ZenMesh.Xds.Cache;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

// Desired state of --flows flows over --edges edges (10 endpoints and 10 targets per edge): how long a
// full validation and compile take, and a one-flow change from API call to new snapshot.
// Run: dotnet run -c Release --project bench/CompilerBench -- --edges 100 --flows 10000
var edges = Arg("--edges", 100);
var flows = Arg("--flows", 10_000);
var changes = Arg("--changes", 200);
var perEdge = flows / edges;

var state = DesiredState.Empty;
for (var e = 0; e < edges; e++)
{
    state = state.With(ResourceKind.Edge, "bench", $"edge-{e}", new Edge());
    for (var i = 0; i < 10; i++)
    {
        state = state
            .With(ResourceKind.Endpoint, "bench", $"in-{e}-{i}", new Endpoint { Edge = $"edge-{e}", Provider = "github", SecretRef = "gh", RateLimit = new RateLimit { RequestsPerSecond = 100 } })
            .With(ResourceKind.Target, "bench", $"out-{e}-{i}", new Target { Edge = $"edge-{e}", Url = $"http://127.0.0.1:{9000 + i}/hooks", AllowLoopback = true });
    }
    for (var f = 0; f < perEdge; f++)
    {
        state = state.With(ResourceKind.Flow, "bench", $"flow-{e}-{f}", new Flow { Endpoint = $"in-{e}-{f % 10}", Target = $"out-{e}-{f % 10}", Retry = new RetryPolicy { Retries = 2, PerTryTimeout = TimeSpan.FromSeconds(2) }, MaxInFlight = 64 });
    }
}
Console.WriteLine($"compiler benchmark: {edges} edges, {state.Flows.Count} flows, {state.Endpoints.Count} endpoints, {state.Targets.Count} targets; {Environment.ProcessorCount} cores, .NET {Environment.Version}");

var validate = Measure(5, () => DesiredStateValidator.Validate(state));
IReadOnlyDictionary<string, Snapshot> compiled = null!;
var full = Measure(5, () => compiled = FlowCompiler.Compile(state));
var resources = compiled.Values.Sum(s => s.Types.Values.Sum(t => t.Resources.Count));

var memory = await ChangeLatencies(new MemoryPersistence(), "memory");
var dataDir = Directory.CreateTempSubdirectory("zenmesh-compiler-bench-").FullName;
var sqlite = await ChangeLatencies(new DesiredStatePersistence(new SqliteControlPlaneDatabase(dataDir)), "sqlite");
Directory.Delete(dataDir, recursive: true);
var peakMiB = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1] is var kb ? long.Parse(kb) / 1024.0 : 0;

Console.WriteLine();
Console.WriteLine("| measure | median (ms) | min (ms) | p99 (ms) |");
Console.WriteLine("| --- | ---: | ---: | ---: |");
Console.WriteLine($"| validate all ({state.Flows.Count} flows) | {validate.Median:0.0} | {validate.Min:0.0} | |");
Console.WriteLine($"| full compile ({edges} edges, {resources} Envoy resources) | {full.Median:0.0} | {full.Min:0.0} | |");
Console.WriteLine($"| one-flow change to new snapshot, compute only | {memory.Median:0.00} | {memory.Min:0.00} | {memory.P99:0.00} |");
Console.WriteLine($"| one-flow change to new snapshot, stored in SQLite (fsync) | {sqlite.Median:0.00} | {sqlite.Min:0.00} | {sqlite.P99:0.00} |");
Console.WriteLine($"| process peak RSS | {peakMiB:0} MiB | | |");
Console.WriteLine();
Console.WriteLine($"Targets: full compile <= 1000 ms: {(full.Median <= 1000 ? "met" : "not met")} ({full.Median:0} ms); one change <= 10 ms: compute only {(memory.Median <= 10 ? "met" : "not met")} ({memory.Median:0.0} ms), with SQLite {(sqlite.Median <= 10 ? "met" : "not met")} ({sqlite.Median:0.0} ms).");
return 0;

async Task<(double Median, double Min, double P99)> ChangeLatencies(IDesiredStatePersistence persistence, string name)
{
    var cache = new SnapshotCache();
    var ledgerDir = Directory.CreateTempSubdirectory("zenmesh-ledger-bench-").FullName;
    await using var ledger = new EvidenceLedger(new SqliteControlPlaneDatabase(ledgerDir), TimeProvider.System);
    var store = new DesiredStateStore(cache, persistence, ledger);
    var load = store.TryChange(_ => state);
    if (!load.Applied)
    {
        throw new InvalidOperationException(string.Join("; ", load.Problems));
    }
    var times = new List<double>();
    for (var i = 0; i < changes; i++)
    {
        var key = $"flow-{i % edges}-{i % perEdge}";
        var changed = state.Flows[DesiredState.Key("bench", key)] with { MaxInFlight = 100 + i };
        var watch = Stopwatch.StartNew();
        var result = store.TryChange(s => s.With(ResourceKind.Flow, "bench", key, changed));
        times.Add(watch.Elapsed.TotalMilliseconds);
        if (!result.Applied)
        {
            throw new InvalidOperationException(string.Join("; ", result.Problems));
        }
    }
    Directory.Delete(ledgerDir, recursive: true);
    times.Sort();
    Console.WriteLine($"  {changes} one-flow changes ({name}) done");
    return (times[times.Count / 2], times[0], times[Math.Min(times.Count - 1, (int)Math.Ceiling(times.Count * 0.99) - 1)]);
}

static (double Median, double Min) Measure(int runs, Action action)
{
    var times = new List<double>();
    for (var i = 0; i < runs; i++)
    {
        var watch = Stopwatch.StartNew();
        action();
        times.Add(watch.Elapsed.TotalMilliseconds);
    }
    times.Sort();
    return (times[runs / 2], times[0]);
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
}
