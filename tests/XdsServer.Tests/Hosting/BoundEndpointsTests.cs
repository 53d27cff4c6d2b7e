using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Tests.Hosting;

/// <summary>With port 0 for both, the control plane reports the ports the OS chose; asked before it has them, it says so rather than answer port 0.</summary>
public sealed class BoundEndpointsTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-bound-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task PortZero_BeforeStart_SaysSo_OnceStarted_TwoRealPorts()
    {
        await using var app = XdsServerApp.Build(["--ads-port", "0", "--http-port", "0", "--data-dir", _dataDir], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        var bound = app.Services.GetRequiredService<BoundEndpoints>();

        var e = Assert.Throws<InvalidOperationException>(() => bound.Ads.Uri);
        Assert.Equal("The server has not started.", e.Message);
        Assert.Throws<InvalidOperationException>(() => bound.Http.EndPoint);

        await app.StartAsync();
        Assert.NotEqual(0, bound.Ads.EndPoint.Port);
        Assert.NotEqual(bound.Ads.EndPoint.Port, bound.Http.EndPoint.Port);
        Assert.Equal("http", bound.Ads.Uri.Scheme);
        using var http = new HttpClient();
        using var health = await http.GetAsync(new Uri(bound.Http.Uri, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await app.StopAsync();
    }
}
