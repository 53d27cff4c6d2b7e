using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Agent.Hosting;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Hosting;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

// Fail-static start: the time from "agent run" with the control plane down to a local client
// holding the edge's full config (every type it has), served from the newest stored generation.
// Run: dotnet run -c Release --project bench/AgentBench -- --flows 100 --runs 20
var flows = Arg("--flows", 100);
var runs = Arg("--runs", 20);
// The operator's token of the bench's control plane (it must be long and random).
const string BenchToken = "zm_bench_operator_3f9a7c1e5b2d8046";
var root = Directory.CreateTempSubdirectory("zenmesh-agent-bench-").FullName;
var stateDir = Path.Combine(root, "agent-state");
Console.WriteLine($"agent start benchmark: one edge with {flows} flows (10 endpoints, 10 targets); {runs} starts with the control plane down; {Environment.ProcessorCount} cores, .NET {Environment.Version}");

// 1. A control plane with the edge, and the agent once, to store a generation.
var server = XdsServerApp.Build(["--ads-port", "0", "--http-port", "0", "--data-dir", Path.Combine(root, "data"), "--Xds:AdminToken", BenchToken], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
await server.StartAsync();
var bound = server.Services.GetRequiredService<BoundEndpoints>();
using (var http = new HttpClient { BaseAddress = bound.Http.Uri })
{
    http.DefaultRequestHeaders.Authorization = new("Bearer", BenchToken);
    var bundle = new Dictionary<string, object>
    {
        ["edges"] = new Dictionary<string, object> { ["local"] = new { mode = "vm" } },
        ["endpoints"] = Enumerable.Range(0, 10).ToDictionary(i => $"in-{i}", i => (object)new { edge = "local", provider = "github", secretRef = "gh", rateLimit = new { requestsPerSecond = 100 } }),
        ["targets"] = Enumerable.Range(0, 10).ToDictionary(i => $"out-{i}", i => (object)new { edge = "local", url = $"http://127.0.0.1:{9000 + i}/hooks", allowLoopback = true }),
        ["flows"] = Enumerable.Range(0, flows).ToDictionary(i => $"flow-{i}", i => (object)new { endpoint = $"in-{i % 10}", target = $"out-{i % 10}", retry = new { retries = 2, perTryTimeout = "2s" }, maxInFlight = 64 }),
    };
    using var applied = await http.PostAsync("/api/v1/apply", new StringContent(JsonSerializer.Serialize(bundle), Encoding.UTF8, "application/json"));
    if (!applied.IsSuccessStatusCode)
    {
        throw new InvalidOperationException(await applied.Content.ReadAsStringAsync());
    }
}
var first = AgentApp.Build(Args(bound.Ads.Uri.ToString()), b => b.Logging.SetMinimumLevel(LogLevel.Warning));
await first.StartAsync();
var expected = await HoldFullConfigAsync(first.Services.GetRequiredService<AgentEndpoints>().Xds.Uri, waitForTypes: 5);
await first.StopAsync();
await first.DisposeAsync();
await server.StopAsync();
await server.DisposeAsync();
var file = Directory.GetFiles(Path.Combine(stateDir, "generations")).Order().Last();
Console.WriteLine($"stored generation: {new FileInfo(file).Length / 1024.0:0.0} KiB, {expected.Resources} resources in {expected.Types} types");

// 2. Starts with the control plane down.
var times = new List<double>();
for (var i = 0; i < runs; i++)
{
    var clock = Stopwatch.StartNew();
    var agent = AgentApp.Build(Args("http://127.0.0.1:9"), b => b.Logging.SetMinimumLevel(LogLevel.Error));
    await agent.StartAsync();
    var held = await HoldFullConfigAsync(agent.Services.GetRequiredService<AgentEndpoints>().Xds.Uri, expected.Types);
    times.Add(clock.Elapsed.TotalMilliseconds);
    if (held.Resources != expected.Resources)
    {
        throw new InvalidOperationException($"run {i}: the client held {held.Resources} resources, not {expected.Resources}");
    }
    await agent.StopAsync();
    await agent.DisposeAsync();
}
// 3. The same, as a fresh process each time (the agent's own dll): runtime start and JIT included.
var processTimes = new List<double>();
// --agent-dll: e.g. a ReadyToRun publish (dotnet publish src/Agent -c Release -r linux-x64 -p:PublishReadyToRun=true).
var agentDll = args.SkipWhile(a => a != "--agent-dll").Skip(1).FirstOrDefault() ?? Path.Combine(AppContext.BaseDirectory, "ZenMesh.Agent.dll");
Console.WriteLine($"process runs start {agentDll}");
for (var i = 0; i < Math.Min(runs, 10); i++)
{
    var port = FreePort();
    var clock = Stopwatch.StartNew();
    using var process = Process.Start(new ProcessStartInfo("dotnet", [agentDll, "run", "--control-plane", "http://127.0.0.1:9", "--edge", "default/local", "--state-dir", stateDir, "--xds-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--status-port", "0"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
    (int Types, int Resources) held = default;
    while (clock.Elapsed < TimeSpan.FromSeconds(30))
    {
        try
        {
            held = await HoldFullConfigAsync(new Uri($"http://127.0.0.1:{port}"), expected.Types);
            break;
        }
        catch (RpcException)
        {
            await Task.Delay(5);
        }
    }
    processTimes.Add(clock.Elapsed.TotalMilliseconds);
    process.Kill();
    await process.WaitForExitAsync();
    if (held.Resources != expected.Resources)
    {
        throw new InvalidOperationException($"process run {i}: the client held {held.Resources} resources, not {expected.Resources}");
    }
}
processTimes.Sort();
if (args.Contains("--keep"))
{
    Console.WriteLine($"kept the agent state in {stateDir}");
}
else
{
    Directory.Delete(root, recursive: true);
}
times.Sort();
var (median, p90, max) = (times[times.Count / 2], times[(int)Math.Ceiling(times.Count * 0.9) - 1], times[^1]);
Console.WriteLine();
Console.WriteLine("| measure | median (ms) | p90 (ms) | max (ms) |");
Console.WriteLine("| --- | ---: | ---: | ---: |");
Console.WriteLine($"| agent host start in a warm process (control plane down) to client holding the full config | {median:0.0} | {p90:0.0} | {max:0.0} |");
var (pMedian, pP90, pMax) = (processTimes[processTimes.Count / 2], processTimes[(int)Math.Ceiling(processTimes.Count * 0.9) - 1], processTimes[^1]);
Console.WriteLine($"| new agent process (control plane down) to client holding the full config | {pMedian:0.0} | {pP90:0.0} | {pMax:0.0} |");
Console.WriteLine();
Console.WriteLine($"Target: under 1 s from process start: {(pMax < 1000 ? "met" : "not met")} (max {pMax:0} ms over {processTimes.Count} processes).");
return 0;

string[] Args(string controlPlane) => ["--control-plane", controlPlane, "--edge", "default/local", "--state-dir", stateDir, "--xds-port", "0", "--status-port", "0"];

// A delta client subscribing to everything of every type, until it holds every type the edge has.
static async Task<(int Types, int Resources)> HoldFullConfigAsync(Uri xds, int waitForTypes)
{
    using var channel = GrpcChannel.ForAddress(xds);
    using var call = new Ads.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources();
    var node = new Node { Id = "default/local", Cluster = "bench-envoy" };
    foreach (var type in TypeUrls.PushOrder)
    {
        await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { Node = node, TypeUrl = type, ResourceNamesSubscribe = { "*" } });
        node = null;
    }
    var held = new Dictionary<string, int>();
    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    await foreach (var response in call.ResponseStream.ReadAllAsync(timeout.Token))
    {
        held[response.TypeUrl] = held.GetValueOrDefault(response.TypeUrl) + response.Resources.Count;
        await call.RequestStream.WriteAsync(new DeltaDiscoveryRequest { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce });
        if (held.Count >= waitForTypes)
        {
            break;
        }
    }
    await call.RequestStream.CompleteAsync();
    return (held.Count, held.Values.Sum());
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) && v > 0 ? v : fallback;
}
