using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using ZenMesh.LocalStack;

// The whole ZenMesh on this machine on embedded defaults: control plane, an enrolled agent,
// ingester, egress, an echo receiver as the demo target, and Envoy when one is on PATH.
const string Usage = """
    Usage: dotnet run --project deploy/local [-- --data-dir ./zenmesh-local] [--envoy <path> | --no-envoy]

    Starts the control plane (Flow API :8080, xDS :18000), an agent enrolled against it (relay :18001,
    status :19000), the ingester (:8081, job stream :8091), the egress (:8082), an echo receiver (:9100)
    and, when an envoy binary is on PATH, Envoy (:10000 in, :10001 out). Prints a curl to try. Ctrl-C stops.
    """;
if (args is ["--help" or "-h" or "help", ..])
{
    Console.WriteLine(Usage);
    return 0;
}
var options = new LocalMeshOptions();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--data-dir" when i + 1 < args.Length:
            options = options with { DataDir = args[++i] };
            break;
        case "--envoy" when i + 1 < args.Length:
            options = options with { Envoy = args[++i] };
            break;
        case "--no-envoy":
            options = options with { Envoy = "" };
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'.{Environment.NewLine}{Usage}");
            return 2;
    }
}

using var stop = new CancellationTokenSource();
// Ctrl-C or SIGTERM: the stack stops its parts itself, in reverse order, then the process exits.
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
LocalMesh stack;
try
{
    Console.WriteLine("Starting the ZenMesh local stack...");
    stack = await LocalMesh.StartAsync(options, Console.Out, stop.Token);
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 130;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"Invalid configuration:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", e.Failures)}");
    return 2;
}
catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException)
{
    Console.Error.WriteLine($"Cannot listen: {e.Message}. Another process (an earlier stack?) holds one of the ports 8080-8082, 8091, 9100, 18000, 18001, 19000.");
    return 2;
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException)
{
    Console.Error.WriteLine($"The local stack did not start: {e.Message}");
    return 1;
}
await using (stack)
{
    Console.WriteLine(stack.Summary($"demo-{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}"));
    await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    Console.WriteLine("Stopping...");
}
Console.WriteLine("Stopped.");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}
