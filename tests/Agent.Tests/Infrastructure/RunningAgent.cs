using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Agent.Hosting;

namespace ZenMesh.Agent.Tests.Infrastructure;

/// <summary>The real agent, in process, on free loopback ports, with its own state directory.</summary>
internal sealed class RunningAgent : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];

    private RunningAgent(WebApplication app, string stateDir)
    {
        _app = app;
        StateDir = stateDir;
        var endpoints = app.Services.GetRequiredService<AgentEndpoints>();
        XdsUri = endpoints.Xds.Uri;
        Http = new HttpClient { BaseAddress = endpoints.Status.Uri, Timeout = TestTimeouts.Default };
    }

    public string StateDir { get; }
    public Uri XdsUri { get; }
    public HttpClient Http { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>A control-plane address nothing listens on: the control plane is down.</summary>
    public static string Unreachable => "http://127.0.0.1:9";

    /// <summary>With <paramref name="controlPlane"/> null, the agent takes its control plane and edge from its enrolled credential.</summary>
    public static async Task<RunningAgent> StartAsync(string? controlPlane, string stateDir, TimeProvider? time = null, params string[] extraArgs)
    {
        string[] target = controlPlane is null ? [] : ["--control-plane", controlPlane, "--edge", "default/local"];
        string[] ports = extraArgs.Contains("--xds-port") ? [] : ["--xds-port", "0"];
        string[] args = [.. target, "--state-dir", stateDir, .. ports, "--status-port", "0", "--Agent:ReconnectDelay", "00:00:00.100", "--Agent:MaxReconnectDelay", "00:00:00.500", .. extraArgs];
        var app = AgentApp.Build(args, b =>
        {
            b.Logging.SetMinimumLevel(LogLevel.Warning);
            if (time is not null)
            {
                b.Services.AddSingleton(time);
            }
        });
        await app.StartAsync().WithTimeout("the agent to start");
        return new RunningAgent(app, stateDir);
    }

    public FakeDeltaClient Delta(string nodeId = "default/local") => new(Channel(), nodeId);

    public FakeSotwClient Sotw(string nodeId = "default/local") => new(Channel(), nodeId);

    public async Task<JsonElement> StatusAsync() => await Http.GetFromJsonAsync<JsonElement>("/status").WithTimeout("GET /status");

    private GrpcChannel Channel()
    {
        var channel = GrpcChannel.ForAddress(XdsUri);
        _channels.Add(channel);
        return channel;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
        Http.Dispose();
        await _app.StopAsync().WithTimeout("the agent to stop");
        await _app.DisposeAsync();
    }
}
