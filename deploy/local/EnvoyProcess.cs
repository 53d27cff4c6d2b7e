using System.Diagnostics;
using ZenMesh.Agent.Bootstrap;

namespace ZenMesh.LocalStack;

/// <summary>
/// The edge's Envoy as a child process, bootstrapped at the agent (ADS on its relay port), so it is
/// configured by the control plane through the agent like any edge Envoy. Its output goes to
/// envoy.log in the data directory.
/// </summary>
public sealed class EnvoyProcess : IAsyncDisposable
{
    private readonly Process _process;

    private EnvoyProcess(Process process, string log)
    {
        _process = process;
        Log = log;
    }

    public string Log { get; }

    /// <summary>The envoy binary to run: <paramref name="configured"/> if given, else "envoy" on PATH; null when there is none ("" turns it off).</summary>
    public static string? Find(string? configured)
    {
        if (configured is not null)
        {
            return configured.Length == 0 ? null : configured;
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "envoy"))
            .FirstOrDefault(File.Exists);
    }

    public static async Task<EnvoyProcess> StartAsync(string binary, LocalMeshOptions options, int agentXdsPort, TextWriter output)
    {
        Directory.CreateDirectory(options.EnvoyDir);
        var bootstrap = Path.Combine(options.EnvoyDir, "envoy.yaml");
        using var errors = new StringWriter();
        var code = await BootstrapCommand.RunAsync(
            ["--out", bootstrap, "--state-dir", options.AgentStateDir, "--xds-port", agentXdsPort.ToString(System.Globalization.CultureInfo.InvariantCulture)], TextWriter.Null, errors).ConfigureAwait(false);
        if (code != 0)
        {
            throw new InvalidOperationException($"could not write Envoy's bootstrap: {errors}");
        }
        var log = Path.Combine(options.EnvoyDir, "envoy.log");
        var start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-c", bootstrap, "--log-path", log, "--base-id", "7" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Task.Delay(TimeSpan.FromMilliseconds(500)).ConfigureAwait(false);
        if (process.HasExited)
        {
            throw new InvalidOperationException($"{binary} exited at once with code {process.ExitCode}; see {log}. Run without it: --no-envoy.");
        }
        await output.WriteLineAsync($"envoy     pid {process.Id}, bootstrap {Path.GetFullPath(bootstrap)}, log {Path.GetFullPath(log)}").ConfigureAwait(false);
        return new EnvoyProcess(process, log);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // Nothing to drain on a developer's machine: the ingester and egress behind it stop right after.
            _process.Kill(entireProcessTree: false);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        _process.Dispose();
    }
}
