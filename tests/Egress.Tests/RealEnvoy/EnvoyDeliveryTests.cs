using System.Text;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;
using ZenMesh.Ingester.Hosting;
using ZenMesh.XdsServer.Tests.RealEnvoy;

namespace ZenMesh.Egress.Tests.RealEnvoy;

/// <summary>
/// The egress in its default mode, through a real Envoy (pinned image) configured by the control
/// plane: the flow's Envoy retry policy turns two 503s into one delivered attempt, and the log
/// names the Envoy that carried it. Needs Docker; skipped with the reason where no engine answers
/// (the same delivery semantics run here in --direct mode: DeliveryTests).
/// </summary>
public sealed class EnvoyDeliveryTests
{
    private const string EnvoyImage = ZenMesh.XdsServer.Tests.RealEnvoy.PinnedEnvoy.Image;
    private const string HostAlias = "host.testcontainers.internal";

    [DockerFact]
    public async Task ThroughEnvoy_TheFlowsRetriesApply_AndTheLogNamesTheEnvoy()
    {
        await using var target = await TestTarget.StartAsync((n, http) => TestTarget.Status(n <= 2 ? 503 : 200)(n, http));
        await using var server = await RunningServer.StartAsync();
        await server.PutAllOkAsync(
            ("edges/local", """{"mode":"vm","egressListenerAddress":"0.0.0.0"}"""),
            ("endpoints/orders", """{"edge":"local","provider":"none"}"""),
            ("targets/shop", $$"""{"edge":"local","url":"http://{{HostAlias}}:{{target.Url.Port}}/hook"}"""),
            ("flows/to-shop", """{"endpoint":"orders","target":"shop","retry":{"retries":2,"retryOn":["5xx"]}}"""));
        await TestcontainersSettings.ExposeHostPortsAsync([(ushort)server.AdsUri.Port, (ushort)target.Url.Port]);
        await using var envoy = new ContainerBuilder(EnvoyImage)
            .WithResourceMapping(Encoding.UTF8.GetBytes(EnvoyBootstrap.Direct("default/local", HostAlias, server.AdsUri.Port)), "/etc/envoy/envoy.json")
            .WithCommand("-c", "/etc/envoy/envoy.json")
            .WithPortBinding(EnvoyBootstrap.AdminPort, true)
            .WithPortBinding(10001, true)
            .WithWaitStrategy(Wait.ForUnixContainer().UntilHttpRequestIsSucceeded(r => r.ForPort(EnvoyBootstrap.AdminPort).ForPath("/ready")))
            .Build();
        await envoy.StartAsync();

        var ingesterDir = Directory.CreateTempSubdirectory("zenmesh-envoy-ingester-").FullName;
        var egressDir = Directory.CreateTempSubdirectory("zenmesh-envoy-egress-").FullName;
        await using var ingester = IngesterApp.Build(["--port", "0", "--stream-port", "0", "--data-dir", ingesterDir, "--xds", server.AdsUri.ToString(), "--edge", "default/local"],
            b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await ingester.StartAsync();
        var ingesterEndpoints = ingester.Services.GetRequiredService<IngesterEndpoints>();
        await using var egress = EgressApp.Build(["--port", "0", "--data-dir", egressDir, "--ingester", ingesterEndpoints.Stream.Uri.ToString(), "--ingester-secret-file", Path.Combine(ingesterDir, "stream-secret"), "--xds", server.AdsUri.ToString(), "--edge", "default/local",
            "--envoy", $"http://{envoy.Hostname}:{envoy.GetMappedPublicPort(10001)}"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        await egress.StartAsync();
        using var hooks = new HttpClient { BaseAddress = ingesterEndpoints.Hooks.Uri };

        string? eventId = null;
        await TestTimeouts.Eventually(async () =>
        {
            using var response = await hooks.PostAsync("/hooks/default/orders", new StringContent("""{"type":"order.created"}""", Encoding.UTF8, "application/json"));
            eventId = response.IsSuccessStatusCode ? System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString() : null;
            return eventId is not null;
        }, "the ingester to receive its endpoint over xDS");
        var store = egress.Services.GetRequiredService<IDeliveryStore>();
        await TestTimeouts.Eventually(async () => (await store.GetAsync($"{eventId}/to-shop", CancellationToken.None))?.State == DeliveryStates.Delivered, "the delivery through Envoy");

        var attempt = Assert.Single(await store.AttemptsAsync($"{eventId}/to-shop", CancellationToken.None));
        Assert.Equal((200, AttemptOutcomes.Delivered), (attempt.Status, attempt.Outcome));
        Assert.NotEqual("direct", attempt.Via);
        Assert.Equal(3, target.Requests.Count);
        Assert.All(target.Requests, r => Assert.Equal($"{eventId}/to-shop", r.Headers["webhook-id"]));

        await egress.StopAsync();
        await ingester.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(ingesterDir, recursive: true);
        Directory.Delete(egressDir, recursive: true);
    }
}
