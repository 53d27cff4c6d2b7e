using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Policies;

/// <summary>The ingester takes its endpoints over xDS from a real control plane, and keeps them through a restart while xDS is down.</summary>
public sealed class ConfigSubscriptionTests : IAsyncLifetime
{
    private const string Secret = "gh-verification-secret";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-ingester-xds-").FullName;
    private readonly string _secretsDir = Directory.CreateTempSubdirectory("zenmesh-ingester-xds-secrets-").FullName;
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "gh-secret"), Secret);
        _server = await RunningServer.StartAsync();
        await _server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm"}"""),
            ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh-secret"}"""));
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_secretsDir, recursive: true);
    }

    private async Task<(WebApplication App, HttpClient Http)> StartIngesterAsync(string xds)
    {
        var app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _dataDir, "--secrets-dir", _secretsDir, "--xds", xds, "--edge", "default/local"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync().WithTimeout("the ingester to start");
        var address = IngesterPorts.Hooks(app).ToString();
        return (app, new HttpClient { BaseAddress = new Uri(address) });
    }

    private static async Task<HttpStatusCode> DeliverAsync(HttpClient http, string delivery)
    {
        const string body = """{"zen":"Keep it logically awesome."}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/default/gh") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("X-Hub-Signature-256", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(body))));
        request.Headers.Add("X-GitHub-Delivery", delivery);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task EndpointsArriveOverXds_AndSurviveARestartWhileXdsIsDown()
    {
        var (app, http) = await StartIngesterAsync(_server.AdsUri.ToString());
        try
        {
            await TestTimeouts.Eventually(async () => await DeliverAsync(http, "first") == HttpStatusCode.OK, "the endpoint to arrive over xDS and a webhook to be accepted");
            var status = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement.GetProperty("config");
            Assert.True(status.GetProperty("connected").GetBoolean());
            Assert.Equal("xds", status.GetProperty("source").GetString());
        }
        finally
        {
            http.Dispose();
            await app.DisposeAsync();
        }

        (app, http) = await StartIngesterAsync("http://127.0.0.1:9");
        try
        {
            // At once, with nothing to ask: the endpoint comes from the stored config.
            Assert.Equal(HttpStatusCode.OK, await DeliverAsync(http, "second"));
            var status = JsonDocument.Parse(await http.GetStringAsync("/status")).RootElement.GetProperty("config");
            Assert.StartsWith("last-known-good gen-", status.GetProperty("source").GetString());
        }
        finally
        {
            http.Dispose();
            await app.DisposeAsync();
        }
    }
}
