using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ZenMesh.Deploy.Tests.Processes;

/// <summary>
/// Every service's process fails to start the same way (ServiceMain): a reason the operator can fix
/// is printed alone, naming what to change, with exit code 2 and no stack trace.
/// </summary>
public sealed class StartFailureTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-start-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private static async Task<(int Code, string Out, string Error)> RunAsync(string dll, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{dll} neither started nor failed within 60 s: {await output}");
        }
        return (process.ExitCode, await output, await error);
    }

    [Theory]
    [InlineData("ZenMesh.Ingester.dll", "--port", "--port and --stream-port")]
    [InlineData("ZenMesh.Egress.dll", "--port", "--port")]
    [InlineData("ZenMesh.Agent.dll", "--xds-port", "--xds-port and --status-port")]
    [InlineData("ZenMesh.XdsServer.dll", "--ads-port", "--ads-port and --http-port")]
    public async Task APortInUse_StopsTheStart_NamingTheSwitchesToChange_WithoutAStackTrace(string dll, string portSwitch, string named)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] common = dll switch
        {
            "ZenMesh.Ingester.dll" => ["--stream-port", "0", "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9"],
            "ZenMesh.Egress.dll" => ["--data-dir", _dataDir, "--direct", "--ingester", "http://127.0.0.1:9", "--xds", "http://127.0.0.1:9"],
            "ZenMesh.Agent.dll" => ["run", "--edge", "default/local", "--control-plane", "http://127.0.0.1:9", "--state-dir", _dataDir, "--status-port", "0"],
            _ => ["--data-dir", _dataDir, "--http-port", "0"],
        };
        string[] args = dll == "ZenMesh.Agent.dll" ? [.. common, portSwitch, port] : [portSwitch, port, .. common];

        var (code, output, error) = await RunAsync(dll, args);

        Assert.True(code == 2, $"exit code {code}; stdout: {output}; stderr: {error}");
        Assert.Contains("Cannot listen", error, StringComparison.Ordinal);
        Assert.Contains($"choose others with {named}", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADamagedEventsDatabase_StopsTheIngestersStart_NamingTheFileAndTheRecovery_WithoutAStackTrace()
    {
        var file = Path.Combine(_dataDir, "events.db");
        await File.WriteAllBytesAsync(file, Enumerable.Repeat((byte)0xA5, 64 * 1024).ToArray());

        var (code, output, error) = await RunAsync("ZenMesh.Ingester.dll", "--port", "0", "--stream-port", "0", "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9");

        Assert.True(code == 2, $"exit code {code}; stdout: {output}; stderr: {error}");
        Assert.Contains($"the database file {file} is damaged", error, StringComparison.Ordinal);
        Assert.Contains(".recover", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }
}
