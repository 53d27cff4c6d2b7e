using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Egress.Hosting;

namespace ZenMesh.Egress.Tests.Api;

/// <summary>With --port 0 the egress reports the port the OS chose (its startup line printed port 0 before), and says so when asked before it has one.</summary>
public sealed class EgressEndpointsTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-egress-endpoints-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task PortZero_BeforeStart_SaysSo_OnceStarted_IsTheApiThatAnswers()
    {
        await using var app = EgressApp.Build(["--direct", "--port", "0", "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9", "--ingester", "http://127.0.0.1:9"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        var api = app.Services.GetRequiredService<EgressEndpoints>().Api;

        var e = Assert.Throws<InvalidOperationException>(() => api.Uri);
        Assert.Equal("The egress has not started.", e.Message);

        await app.StartAsync();
        Assert.NotEqual(0, api.EndPoint.Port);
        Assert.Equal("http", api.Uri.Scheme);
        using var http = new HttpClient { BaseAddress = api.Uri };
        Assert.Equal("ok", (await http.GetFromJsonAsync<JsonElement>("/healthz")).GetProperty("status").GetString());
        await app.StopAsync();
    }
}
