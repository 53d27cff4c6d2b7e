using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ZenMesh.Data;

namespace ZenMesh.Hosting;

/// <summary>
/// How every ZenMesh service's process runs, written once: build, start, say where it listens, run
/// until stopped. A start that fails for a reason the operator can fix (configuration, a port in
/// use, a damaged database, or what the service names) prints that reason alone, no stack trace,
/// and exits 2.
/// </summary>
public static class ServiceMain
{
    /// <param name="build">Builds the service (options are validated here).</param>
    /// <param name="started">The line printed once it listens: its bound addresses, where its state lives.</param>
    /// <param name="portSwitches">The switches that choose its ports, named when a port is taken.</param>
    /// <param name="beforeStart">Work that must succeed before anything listens (loading state).</param>
    /// <param name="operatorError">Further failures whose message already says what to do.</param>
    public static async Task<int> RunAsync(Func<WebApplication> build, Func<WebApplication, string> started, string portSwitches, Action<WebApplication>? beforeStart = null, Func<Exception, bool>? operatorError = null)
    {
        try
        {
            var app = build();
            beforeStart?.Invoke(app);
            await app.StartAsync().ConfigureAwait(false);
            Console.WriteLine(started(app));
            await app.WaitForShutdownAsync().ConfigureAwait(false);
            return 0;
        }
        catch (OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync($"Invalid configuration:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", e.Failures)}").ConfigureAwait(false);
            return 2;
        }
        catch (IOException e) when (InUse(e))
        {
            await Console.Error.WriteLineAsync($"Cannot listen: {e.Message}. Another process may hold the port; choose others with {portSwitches}.").ConfigureAwait(false);
            return 2;
        }
        catch (Exception e) when (e is DamagedDatabaseException || operatorError?.Invoke(e) == true)
        {
            await Console.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
            return 2;
        }
    }

    /// <summary>Kestrel wraps the socket's refusal (AddressInUseException, then the SocketException): look all the way down.</summary>
    private static bool InUse(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException or Microsoft.AspNetCore.Connections.AddressInUseException)
            {
                return true;
            }
        }
        return false;
    }
}
