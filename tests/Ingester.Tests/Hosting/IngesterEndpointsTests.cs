using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Tests.Hosting;

/// <summary>With port 0 for both, the ingester reports the ports the OS chose, and says which one takes webhooks and which is the egress's h2c stream.</summary>
public sealed class IngesterEndpointsTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-endpoints-").FullName;
    private WebApplication _app = null!;

    public Task InitializeAsync()
    {
        _app = IngesterApp.Build(["--port", "0", "--stream-port", "0", "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Fact]
    public void BeforeStarting_AskingForAPort_SaysSo()
    {
        var endpoints = _app.Services.GetRequiredService<IngesterEndpoints>();

        var e = Assert.Throws<InvalidOperationException>(() => endpoints.Hooks.Uri);
        Assert.Equal("The ingester has not started.", e.Message);
        Assert.Throws<InvalidOperationException>(() => endpoints.Stream.Uri);
    }

    [Fact]
    public async Task OnceStarted_TheHooksPortSpeaksHttp1_AndTheStreamPortH2cOnly()
    {
        await _app.StartAsync();
        var endpoints = _app.Services.GetRequiredService<IngesterEndpoints>();

        Assert.NotEqual(0, endpoints.Hooks.EndPoint.Port);
        Assert.NotEqual(0, endpoints.Stream.EndPoint.Port);
        Assert.NotEqual(endpoints.Hooks.EndPoint.Port, endpoints.Stream.EndPoint.Port);
        using var http1 = new HttpClient();
        using var hooks = await http1.GetAsync(new Uri(endpoints.Hooks.Uri, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, hooks.StatusCode);
        Assert.Equal(HttpVersion.Version11, hooks.Version);
        using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        // The stream port speaks h2c, and serves the job stream only: /healthz is the webhook port's.
        using var stream = await h2c.GetAsync(new Uri(endpoints.Stream.Uri, "/healthz"));
        Assert.Equal(HttpStatusCode.NotFound, stream.StatusCode);
        Assert.Equal(HttpVersion.Version20, stream.Version);
        using var wrong = await http1.GetAsync(new Uri(endpoints.Stream.Uri, "/healthz"));
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Equal("An HTTP/1.x request was sent to an HTTP/2 only endpoint.", await wrong.Content.ReadAsStringAsync());
    }
}
