using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Tests.Infrastructure;

namespace ZenMesh.Agent.Tests.Hosting;

/// <summary>With port 0 for both, the agent reports the ports the OS chose; asked before it has them, it says so rather than answer port 0.</summary>
public sealed class AgentEndpointsTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-endpoints-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    [Fact]
    public async Task PortZero_BeforeStart_SaysSo_OnceStarted_TwoRealPorts()
    {
        await using var app = AgentApp.Build(["--control-plane", RunningAgent.Unreachable, "--edge", "default/local", "--state-dir", _stateDir, "--xds-port", "0", "--status-port", "0"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        var endpoints = app.Services.GetRequiredService<AgentEndpoints>();

        var e = Assert.Throws<InvalidOperationException>(() => endpoints.Xds.Uri);
        Assert.Equal("The agent has not started.", e.Message);
        Assert.Throws<InvalidOperationException>(() => endpoints.Status.EndPoint);

        await app.StartAsync();
        Assert.NotEqual(0, endpoints.Xds.EndPoint.Port);
        Assert.NotEqual(0, endpoints.Status.EndPoint.Port);
        Assert.NotEqual(endpoints.Xds.EndPoint.Port, endpoints.Status.EndPoint.Port);
        Assert.True(IPAddress.IsLoopback(endpoints.Xds.EndPoint.Address));
        using var http = new HttpClient();
        using var health = await http.GetAsync(new Uri(endpoints.Status.Uri, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await app.StopAsync();
    }
}
