using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace ZenMesh.XdsBench;

/// <summary>The XdsServer in its own process, so its CPU time and peak memory are its own.</summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;

    private ServerProcess(Process process, int adsPort, int httpPort)
    {
        _process = process;
        AdsPort = adsPort;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        _http.DefaultRequestHeaders.Authorization = new("Bearer", OperatorToken);
    }

    public int AdsPort { get; }

    /// <summary>The operator's token the bench starts the server with: /admin/xds/source is the operator's.</summary>
    private const string OperatorToken = "zm_bench_operator_6e1d4b9a2c7f3058";

    public static async Task<ServerProcess> StartAsync(string resourcesFile)
    {
        var (ads, http) = (FreePort(), FreePort());
        var dll = Path.Combine(AppContext.BaseDirectory, "ZenMesh.XdsServer.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "--resources", resourcesFile, "--ads-port", $"{ads}", "--http-port", $"{http}", "--Logging:LogLevel:Default", "Warning", "--data-dir", Directory.CreateTempSubdirectory("zenmesh-bench-data-").FullName, "--Xds:AdminToken", OperatorToken])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var server = new ServerProcess(Process.Start(start)!, ads, http);
        server._process.OutputDataReceived += (_, _) => { };
        server._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[server] {e.Data}"); };
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                await server._http.GetStringAsync("/healthz");
                return server;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException("The XdsServer did not answer /healthz within 30 s.");
    }

    /// <summary>When the server published the version it now serves (its clock, which is this machine's).</summary>
    public async Task<(string Version, DateTimeOffset LoadedAt)> ServingAsync()
    {
        using var doc = JsonDocument.Parse(await _http.GetStringAsync("/admin/xds/source"));
        var root = doc.RootElement;
        return (root.GetProperty("servingVersion").GetString() ?? "", root.GetProperty("loadedAt").GetDateTimeOffset());
    }

    /// <summary>User plus system CPU time of the server process so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Peak resident set size (VmHWM) of the server process.</summary>
    public long PeakRssBytes
    {
        get
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
