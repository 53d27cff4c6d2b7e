using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Tests.Infrastructure;

namespace ZenMesh.Agent.Tests.Hosting;

/// <summary>--status-bind opens the agent's status to a kubelet's probes; the xDS relay stays on loopback.</summary>
public sealed class AgentOptionsTests : IDisposable
{
    private readonly string _stateDir = Directory.CreateTempSubdirectory("zenmesh-agent-opts-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    [Fact]
    public async Task StatusBind_OnEveryInterface_ServesStatus_WhileTheRelayStaysOnLoopback()
    {
        await using var agent = await RunningAgent.StartAsync(RunningAgent.Unreachable, _stateDir, null, "--status-bind", "0.0.0.0");

        Assert.Equal("0.0.0.0", agent.Services.GetRequiredService<AgentEndpoints>().Status.Uri.Host);
        Assert.True(System.Net.IPAddress.IsLoopback(System.Net.IPAddress.Parse(agent.XdsUri.Host)));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{agent.Http.BaseAddress!.Port}") };
        Assert.Equal("ok", (await http.GetFromJsonAsync<JsonElement>("/healthz")).GetProperty("status").GetString());
    }

    [Fact]
    public void StatusBind_ThatIsNotAnAddress_SaysHowToFixIt()
    {
        var error = Assert.Throws<OptionsValidationException>(() => AgentApp.Build(["--edge", "default/local", "--state-dir", _stateDir, "--status-bind", "everywhere"]));

        Assert.Contains("Agent:StatusBindAddress (--status-bind) is 'everywhere'; use an IP address, e.g. 0.0.0.0 for every interface or 127.0.0.1 for loopback only.", error.Failures);
    }
}
