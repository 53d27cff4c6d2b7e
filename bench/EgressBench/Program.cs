using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;

// Delivery throughput of the egress (--direct: no Envoy here), and how much a target at 10 s of
// latency costs the other flows. Each run starts a fresh ingester and egress in this process,
// loads the ingester with 1 KB events first, then starts the egress and times it from start until
// every event of the fast flows is delivered (taking jobs over the stream, recording them, signing
// each delivery with Standard Webhooks, delivering, storing the outcome with fsync).
// Run: dotnet run -c Release --project bench/EgressBench -- --events 6000 --rounds 3
var totalEvents = Arg("--events", 6000);
var rounds = Arg("--rounds", 3);
var slowEvents = Arg("--slow-events", 400);
var fastFlows = new[] { "fast-a", "fast-b", "fast-c" };
var padding = new string('x', 1000);

await using var fast = await TargetAsync(TimeSpan.Zero);
await using var slow = await TargetAsync(TimeSpan.FromSeconds(10));
Console.WriteLine($"egress benchmark: {totalEvents} events of 1 KB over {fastFlows.Length} flows (maxInFlight 32 each), signed, --direct; slow flow: {slowEvents} events to a target answering after 10 s (maxInFlight 100); {rounds} rounds; {Environment.ProcessorCount} cores, .NET {Environment.Version}");
// A first, uncounted run warms up the JIT and the thread pool, which otherwise land on round 1.
await RunAsync(withSlow: false, count: Math.Min(totalEvents, 2000));
var alone = new List<double>();
var beside = new List<double>();
for (var round = 1; round <= rounds; round++)
{
    // Alternating which goes first keeps a drift over the run (page cache, disk) out of the ratio.
    if (round % 2 == 1)
    {
        alone.Add(await RunAsync(withSlow: false));
        beside.Add(await RunAsync(withSlow: true));
    }
    else
    {
        beside.Add(await RunAsync(withSlow: true));
        alone.Add(await RunAsync(withSlow: false));
    }
    Console.WriteLine($"round {round}: fast flows alone {alone[^1]:0} deliveries/s; beside the slow target {beside[^1]:0} deliveries/s");
}
var a = Median(alone);
var b = Median(beside);
var drop = (a - b) / a;
Console.WriteLine();
Console.WriteLine("| run | deliveries/s (median) | runs |");
Console.WriteLine("| --- | ---: | --- |");
Console.WriteLine($"| fast flows alone | {a:0} | {string.Join(", ", alone.Select(x => x.ToString("0", CultureInfo.InvariantCulture)))} |");
Console.WriteLine($"| fast flows beside a 10 s target | {b:0} | {string.Join(", ", beside.Select(x => x.ToString("0", CultureInfo.InvariantCulture)))} |");
Console.WriteLine();
Console.WriteLine($"Target: the others' throughput drops by under 5% with one target at 10 s latency: {(drop < 0.05 ? "met" : "not met")} (drop {drop:P1}; negative means faster).");
return 0;

async Task<double> RunAsync(bool withSlow, int? count = null)
{
    var events = count ?? totalEvents;
    var root = Directory.CreateTempSubdirectory("zenmesh-egress-bench-").FullName;
    var streamPort = FreePort();
    var flows = fastFlows.Select(f => Flow(f, fast.Url, 32)).ToList();
    if (withSlow)
    {
        flows.Add(Flow("slow", slow.Url, 100));
    }
    var ingester = IngesterApp.Build(["--port", "0", "--stream-port", streamPort.ToString(CultureInfo.InvariantCulture), "--data-dir", Path.Combine(root, "ingester"), "--xds", "http://127.0.0.1:9", "--Ingester:MaxPending", "100000"],
        b => b.Logging.ClearProviders());
    var endpoint = new EndpointPolicy { Tenant = "default", Endpoint = "shop", Provider = "none" };
    endpoint.Flows.AddRange(flows.Select(f => new FlowRoute { Flow = f.Flow, EventTypes = { f.Flow }, Enabled = true }));
    ingester.Services.GetRequiredService<EndpointPolicies>().Replace([endpoint]);
    await ingester.StartAsync();
    var hooks = new HttpClient { BaseAddress = new Uri(ingester.Urls.Single(u => !u.EndsWith($":{streamPort}", StringComparison.Ordinal))) };
    var types = Enumerable.Range(0, events).Select(i => fastFlows[i % fastFlows.Length]).Concat(withSlow ? Enumerable.Repeat("slow", slowEvents) : []).ToList();
    // The slow flow's events go first, so its lane is full before and during the whole measurement.
    types.Reverse();
    await Parallel.ForEachAsync(Enumerable.Range(0, types.Count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
    {
        using var response = await hooks.PostAsync("/hooks/default/shop", new StringContent($$"""{"type":"{{types[i]}}","n":{{i}},"padding":"{{padding}}"}""", Encoding.UTF8, "application/json"), ct);
        response.EnsureSuccessStatusCode();
    });

    var secrets = Path.Combine(root, "secrets");
    Directory.CreateDirectory(secrets);
    await File.WriteAllTextAsync(Path.Combine(secrets, "signing"), "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("egress-bench-signing-key-32bytes")));
    var egress = EgressApp.Build(["--port", "0", "--direct", "--data-dir", Path.Combine(root, "egress"), "--secrets-dir", secrets, "--ingester", $"http://127.0.0.1:{streamPort}", "--ingester-secret-file", Path.Combine(root, "ingester", "stream-secret"), "--xds", "http://127.0.0.1:9"],
        b => b.Logging.ClearProviders());
    egress.Services.GetRequiredService<FlowPolicies>().Replace(flows);
    var counters = egress.Services.GetRequiredService<DeliveryCounters>();
    long Delivered() => counters.Attempts().Where(c => fastFlows.Contains(c.Flow["default/".Length..]) && c.Outcome == AttemptOutcomes.Delivered).Sum(c => c.Count);
    var clock = Stopwatch.StartNew();
    await egress.StartAsync();
    while (Delivered() < events)
    {
        await Task.Delay(10);
        if (clock.Elapsed > TimeSpan.FromMinutes(5))
        {
            throw new TimeoutException($"only {Delivered()} of {events} delivered in 5 minutes");
        }
    }
    var rate = events / clock.Elapsed.TotalSeconds;
    hooks.Dispose();
    await egress.StopAsync();
    await egress.DisposeAsync();
    await ingester.StopAsync();
    await ingester.DisposeAsync();
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(root, recursive: true);
    return rate;
}

static FlowPolicy Flow(string name, Uri target, uint maxInFlight)
{
    var flow = new FlowPolicy
    {
        Name = $"default/{name}", Tenant = "default", Flow = name, Endpoint = "shop", Target = name, TargetUrl = target.ToString(), Enabled = true,
        Timeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)), MaxInFlight = maxInFlight, SigningSecretRef = "signing", EventTypes = { name },
        RedeliveryHorizon = Duration.FromTimeSpan(TimeSpan.FromDays(3)),
        // The bench's targets run on this host.
        TargetAllowLoopback = true,
    };
    flow.RedeliveryDelays.Add(Duration.FromTimeSpan(TimeSpan.FromSeconds(5)));
    return flow;
}

static async Task<Target> TargetAsync(TimeSpan latency)
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    var app = builder.Build();
    app.MapPost("/hook", async (HttpContext http) =>
    {
        await http.Request.Body.CopyToAsync(Stream.Null);
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency);
        }
        return Results.Ok();
    });
    await app.StartAsync();
    return new Target(app, new Uri(new Uri(app.Urls.Single()), "/hook"));
}

static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
}

internal sealed record Target(WebApplication App, Uri Url) : IAsyncDisposable
{
    public ValueTask DisposeAsync() => App.DisposeAsync();
}
