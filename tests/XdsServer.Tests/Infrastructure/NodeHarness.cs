using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// tests/xds-harness/harness.mjs in a child process: gRPC backends plus gRPC's own xDS client,
/// driven by one JSON line per command. Its stderr is kept for failure messages.
/// </summary>
internal sealed class NodeHarness : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private NodeHarness(Process process)
    {
        _process = process;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.BeginErrorReadLine();
    }

    public IReadOnlyDictionary<string, int> BackendPorts { get; private set; } = new Dictionary<string, int>();

    public static async Task<NodeHarness> StartAsync(params string[] backends)
    {
        var start = new ProcessStartInfo("node", [RepoPaths.Combine("tests", "xds-harness", "harness.mjs"), "--backends", string.Join(',', backends)])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoPaths.Combine("tests", "xds-harness"),
        };
        var harness = new NodeHarness(Process.Start(start) ?? throw new InvalidOperationException("node did not start"));
        var ready = await harness.ReadLineAsync("the harness to report its backends");
        harness.BackendPorts = ready["ports"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<int>());
        return harness;
    }

    public async Task<JsonObject> SendAsync(object command, TimeSpan? timeout = null)
    {
        await _process.StandardInput.WriteLineAsync(JsonSerializer.Serialize(command));
        await _process.StandardInput.FlushAsync();
        var reply = await ReadLineAsync($"the harness to answer {JsonSerializer.Serialize(command)}", timeout);
        Assert.True(reply["ok"]?.GetValue<bool>() == true, $"harness command {JsonSerializer.Serialize(command)} failed: {reply.ToJsonString()}\nstderr:\n{Stderr}");
        return reply;
    }

    /// <summary>Calls through the xDS channel; counts per backend name.</summary>
    public async Task<Dictionary<string, int>> CallAsync(int count)
    {
        var reply = await SendAsync(new { cmd = "call", count });
        Assert.True(reply["errors"]!.GetValue<int>() == 0, $"{reply["errors"]} of {count} calls failed, last: {reply["lastError"]}");
        return reply["counts"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<int>());
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    private async Task<JsonObject> ReadLineAsync(string waitingFor, TimeSpan? timeout = null)
    {
        var line = await _process.StandardOutput.ReadLineAsync().WithTimeout(waitingFor, timeout ?? TimeSpan.FromSeconds(30))
            ?? throw new InvalidOperationException($"The harness exited while waiting for {waitingFor}.\nstderr:\n{Stderr}");
        return JsonNode.Parse(line)?.AsObject() ?? throw new InvalidOperationException($"The harness wrote '{line}'.");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                await _process.StandardInput.WriteLineAsync("{\"cmd\":\"quit\"}");
                await _process.StandardInput.FlushAsync();
                await _process.WaitForExitAsync().WithTimeout("the harness to exit", TimeSpan.FromSeconds(5));
            }
        }
        catch (Exception e) when (e is TimeoutException or IOException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
