using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Intake;

/// <summary>On an enrolled edge the egress takes its jobs over mutual TLS with the edge's credential, and delivers them; no shared secret is involved.</summary>
public sealed class EnrolledStreamTests : IDisposable
{
    private readonly TestCredentials _credentials = new();

    public void Dispose() => _credentials.Dispose();

    [Fact]
    public async Task TheEgress_WithTheEdgesCredential_TakesJobsOverMutualTls_AndDeliversThem()
    {
        var credential = _credentials.Directory("default/local");
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var ingester = IngesterApp.Build(["--port", "0", "--stream-port", "0", "--data-dir", Directory.CreateTempSubdirectory("zenmesh-mtls-ingester-").FullName, "--xds", "http://127.0.0.1:9", "--stream-credential", credential],
            b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        ingester.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy { Tenant = "default", Endpoint = "orders", Provider = "none", Flows = { new FlowRoute { Flow = "orders", EventTypes = { "*" }, Enabled = true } } }]);
        await ingester.StartAsync();
        var stream = ingester.Services.GetRequiredService<IngesterEndpoints>().Stream.Uri;
        await using var egress = EgressApp.Build(["--direct", "--port", "0", "--data-dir", Directory.CreateTempSubdirectory("zenmesh-mtls-egress-").FullName, "--xds", "http://127.0.0.1:9", "--ingester", stream.ToString(), "--ingester-credential", credential],
            b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        egress.Services.GetRequiredService<FlowPolicies>().Replace([Mesh.Flow("orders", target.Url)]);
        await egress.StartAsync();

        using var hooks = new HttpClient { BaseAddress = ingester.Services.GetRequiredService<IngesterEndpoints>().Hooks.Uri };
        using var posted = await hooks.PostAsync("/hooks/default/orders", new StringContent("""{"id":"over-mtls"}""", Encoding.UTF8, "application/json"));
        posted.EnsureSuccessStatusCode();

        Assert.Equal("https", stream.Scheme);
        await TestTimeouts.Eventually(() => Task.FromResult(target.Requests.Count == 1), "the delivery, taken over mutual TLS");
        await egress.StopAsync();
        await ingester.StopAsync();
    }
}
