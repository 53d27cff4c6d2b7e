using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.IngesterBench;

/// <summary>
/// The embedded store alone, without HTTP or wrk: <c>producers</c> tasks each append 1 KB events one
/// after another, each waiting for its commit, as a webhook's request does. What the store costs
/// (CPU per event, commits, bytes to disk) shows here without the HTTP path's share of the two cores,
/// so a change to the store can be told from the noise in far fewer runs.
/// </summary>
internal static class StoreOnly
{
    public static async Task RunAsync(string dataDir, int producers, int seconds, int warmup, int repeat, Func<long> diskBytesWritten)
    {
        var options = Options.Create(new IngesterOptions { DataDir = dataDir });
        IEventStore Open() => new SqliteEventStore(options, TimeProvider.System, NullLogger<SqliteEventStore>.Instance);
        var store = Open();
        var body = Encoding.UTF8.GetBytes("{\"action\":\"opened\",\"padding\":\"" + new string('x', 1024 - 38) + "\"}");
        // Headers as the intake stores them for a GitHub delivery.
        var headers = Encoding.UTF8.GetBytes("""{"Host":"127.0.0.1:18382","Content-Type":"application/json","Content-Length":"1024","X-Hub-Signature-256":"sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","X-GitHub-Event":"pull_request","X-GitHub-Delivery":"0f6c2d52-8d8e-4a5b-9d7e-2b1c3f4a5b6c"}""");
        IReadOnlyList<string> flows = ["to-ci"];
        Console.WriteLine($"store alone: {store.GetType().Name}, {producers} producers each appending 1 KB events and waiting for each commit, {seconds} s per run; {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        await RunOnceAsync("warm-up", warmup);
        var rates = new List<double>();
        for (var run = 1; run <= repeat; run++)
        {
            rates.Add(await RunOnceAsync($"run {run}", seconds));
        }
        rates.Sort();
        Console.WriteLine($"store alone: {string.Join(", ", rates.Select(r => r.ToString("0", System.Globalization.CultureInfo.InvariantCulture)))} events/s; median {rates[rates.Count / 2]:0}/s");

        // A restart after all that: how long the store takes to open, and what it then holds in memory
        // (none of the jobs has been acknowledged here), its integrity check included.
        await store.DisposeAsync();
        await ReopenAsync("reopened");

        // Retention a week later: every event here is past it, so it drops whole tables (events, and
        // the dedup keys past their window); how long that takes, and that it is no row-by-row delete.
        var later = new LaterClock(TimeSpan.FromDays(8));
        var bytes = new FileInfo(Path.Combine(dataDir, "events.db")).Length;
        await using (var expiring = new SqliteEventStore(options, later, NullLogger<SqliteEventStore>.Instance))
        {
            var expiringWatch = Stopwatch.StartNew();
            var result = await expiring.ExpireAsync(CancellationToken.None);
            Console.WriteLine($"retention 8 days later: dropped days {string.Join(", ", result.DroppedPartitions)} with {result.DroppedJobs:N0} open jobs and {result.ForgottenKeys:N0} dedup keys "
                + $"(events.db {bytes / 1048576.0:0} MiB) in {expiringWatch.Elapsed.TotalMilliseconds:N0} ms; {expiring.Count("default", "gh"):N0} events left");
        }

        async Task ReopenAsync(string label)
        {
            var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
            var reopening = Stopwatch.StartNew();
            await using var reopened = Open();
            var took = reopening.Elapsed;
            var held = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
            Console.WriteLine($"{label}: {reopened.Count("default", "gh"):N0} events, {reopened.OpenJobs:N0} open jobs, in {took.TotalMilliseconds:N0} ms; "
                + $"managed heap held {held / 1048576.0:0.0} MiB ({(double)held / Math.Max(1, reopened.OpenJobs):0} bytes per open job)");
        }

        async Task<double> RunOnceAsync(string label, int forSeconds)
        {
            var nonce = Guid.NewGuid().ToString("N");
            var self = Process.GetCurrentProcess();
            var cpu0 = self.TotalProcessorTime;
            var disk0 = diskBytesWritten();
            var commits0 = store.Commits.Read();
            var gcPause0 = GC.GetTotalPauseDuration();
            long appended = 0;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                for (var i = 0; clock.Elapsed.TotalSeconds < forSeconds; i++)
                {
                    var stored = await store.AppendAsync(new IncomingEvent("default", "gh", $"{nonce}-{p}-{i}", "pull_request", DateTimeOffset.UtcNow, headers, body, flows));
                    if (stored.Duplicate)
                    {
                        throw new InvalidOperationException($"event {nonce}-{p}-{i} was taken for a duplicate: every key in this run is new");
                    }
                    Interlocked.Increment(ref appended);
                }
            })));
            var elapsed = clock.Elapsed.TotalSeconds;
            self.Refresh();
            var commits = store.Commits.Read();
            var count = commits.Count - commits0.Count;
            var rate = appended / elapsed;
            Console.WriteLine($"  {label}: {rate:0} events/s; CPU {(self.TotalProcessorTime - cpu0).TotalMicroseconds / appended:0.0} us/event ({(self.TotalProcessorTime - cpu0).TotalSeconds / elapsed:0.00} cores); "
                + $"{count} commits, {(double)appended / count:0.0} events and {(commits.SumSeconds - commits0.SumSeconds) * 1000 / count:0.00} ms each; "
                + $"{(diskBytesWritten() - disk0) / 1024.0 / appended:0.0} KiB written to disk per event; GC pauses {(GC.GetTotalPauseDuration() - gcPause0).TotalMilliseconds:0} ms");
            return rate;
        }
    }

    /// <summary>The system clock moved ahead, to run retention as if days had passed.</summary>
    private sealed class LaterClock(TimeSpan ahead) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + ahead;
    }
}
