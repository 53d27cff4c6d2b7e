using System.Diagnostics;
using Grpc.Net.Client;
using ZenMesh.XdsBench;

// N simulated ADS clients connect at once to an XdsServer in its own process; then endpoint c0
// changes, again and again, and each change is timed from the moment the server published it to
// the moment every client ACKed it. Run: dotnet run -c Release --project bench/XdsBench -- --clients 10000
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

Console.WriteLine($"xDS benchmark: {options.Clients} clients, {options.Clusters} EDS clusters each, {options.Changes} single-endpoint changes per mode; {Environment.ProcessorCount} cores, .NET {Environment.Version}");
var results = new List<(string Mode, double[] Convergence, double Connect, double BytesPerClient, double CpuSeconds, long PeakRss, double P50, double P99, double Max, double ServerCpuPerChange, double ClientCpuPerChange)>();
var self = Process.GetCurrentProcess();
foreach (var mode in options.Modes)
{
    var file = Path.Combine(Path.GetTempPath(), $"zenmesh-bench-{Guid.NewGuid():N}.json");
    await File.WriteAllTextAsync(file, ResourcesFile.Render(options.Clusters, new Dictionary<int, int>()));
    await using var server = await ServerProcess.StartAsync(file);
    var names = Enumerable.Range(0, options.Clusters).Select(i => $"c{i}").ToArray();
    var tracker = new ChangeTracker(options.Clients);
    tracker.Begin(ResourcesFile.BasePort); // the initial config counts as the first "change"
    using var stop = new CancellationTokenSource();
    var channels = Enumerable.Range(0, (options.Clients + options.ClientsPerConnection - 1) / options.ClientsPerConnection)
        .Select(_ => GrpcChannel.ForAddress($"http://127.0.0.1:{server.AdsPort}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
            MaxReceiveMessageSize = null,
        }))
        .ToList();

    var connectWatch = Stopwatch.StartNew();
    var cpuAtStart = server.CpuTime;
    var clients = new List<Task>();
    for (var i = 0; i < options.Clients; i++)
    {
        var client = new SimulatedClient(i, channels[i / options.ClientsPerConnection], names, tracker, new TaskCompletionSource());
        clients.Add(Task.Run(() => mode == "sotw" ? client.RunSotwAsync(stop.Token) : client.RunDeltaAsync(stop.Token)));
    }
    await WaitAsync(() => tracker.Acked == options.Clients, options.Timeout, $"all {options.Clients} clients to receive their first EDS", clients);
    var connect = connectWatch.Elapsed.TotalMilliseconds;

    var serverCpuBeforeChanges = server.CpuTime;
    self.Refresh();
    var clientCpuBeforeChanges = self.TotalProcessorTime;
    var convergence = new List<double>();
    var latencies = new List<double>();
    var bytes = new List<double>();
    for (var change = 1; change <= options.Changes; change++)
    {
        var port = ResourcesFile.BasePort + 10_000 + change;
        var (before, _) = await server.ServingAsync();
        tracker.Begin(port);
        await File.WriteAllTextAsync(file, ResourcesFile.Render(options.Clusters, new Dictionary<int, int> { [0] = port }));
        await WaitAsync(() => tracker.Acked == options.Clients, options.Timeout, $"change {change} to reach all clients", clients);
        var (after, publishedAt) = await server.ServingAsync();
        if (after == before)
        {
            throw new InvalidOperationException("The server did not publish a new version.");
        }
        var each = tracker.LatenciesFrom(publishedAt);
        latencies.AddRange(each);
        convergence.Add(each[^1]);
        // Let stragglers' responses land before counting bytes.
        await Task.Delay(200);
        bytes.Add((double)tracker.Bytes / options.Clients);
    }
    var cpu = (server.CpuTime - cpuAtStart).TotalSeconds;
    var serverPerChange = (server.CpuTime - serverCpuBeforeChanges).TotalSeconds / options.Changes;
    self.Refresh();
    var clientPerChange = (self.TotalProcessorTime - clientCpuBeforeChanges).TotalSeconds / options.Changes;
    var peak = server.PeakRssBytes;
    await stop.CancelAsync();
    await Task.WhenAll(clients.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    channels.ForEach(c => c.Dispose());
    File.Delete(file);

    latencies.Sort();
    results.Add((mode, [.. convergence], connect, bytes.Average(), cpu, peak, Percentile(latencies, 0.50), Percentile(latencies, 0.99), latencies[^1], serverPerChange, clientPerChange));
    Console.WriteLine($"  {mode}: done");
}

Console.WriteLine();
Console.WriteLine("| mode | clients | connect: all ACKed (ms) | change→ACK p50 (ms) | p99 (ms) | max (ms) | bytes per client per change | server CPU total (s) | server CPU per change (s) | clients' CPU per change (s) | server peak RSS (MiB) |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var r in results)
{
    Console.WriteLine($"| {r.Mode} | {options.Clients} | {r.Connect:0} | {r.P50:0} | {r.P99:0} | {r.Max:0} | {r.BytesPerClient:0} | {r.CpuSeconds:0.0} | {r.ServerCpuPerChange:0.00} | {r.ClientCpuPerChange:0.00} | {r.PeakRss / 1024.0 / 1024.0:0} |");
}
if (results.Count == 2)
{
    Console.WriteLine();
    Console.WriteLine($"SotW/delta bytes per single-endpoint change: {results[0].BytesPerClient / results[1].BytesPerClient:0.0}x");
}
var worst = results.Max(r => r.Max);
var p99 = results.Max(r => r.P99);
var rss = results.Max(r => r.PeakRss) / 1024.0 / 1024.0;
Console.WriteLine($"Target (10,000 clients): p99 <= 1000 ms, max <= 2000 ms, server < 1536 MiB. Measured here: p99 {p99:0} ms, max {worst:0} ms, {rss:0} MiB: {(p99 <= 1000 && worst <= 2000 && rss < 1536 ? "met" : "not met")}{(options.Clients < 10_000 ? $" (at {options.Clients} clients)" : "")}.");
return 0;

static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

static async Task WaitAsync(Func<bool> done, TimeSpan timeout, string what, List<Task> clients)
{
    var deadline = DateTime.UtcNow + timeout;
    while (!done())
    {
        if (clients.FirstOrDefault(t => t.IsFaulted) is { } failed)
        {
            throw new InvalidOperationException($"A client failed while waiting for {what}.", failed.Exception);
        }
        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}.");
        }
        await Task.Delay(5);
    }
}
