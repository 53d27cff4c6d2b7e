using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ZenMesh.Agent.Hosting;
using ZenMesh.Deploy.Tests.Infrastructure;
using ZenMesh.Egress.Tests.Infrastructure;
using ZenMesh.Egress.Hosting;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Observability;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.Deploy.Tests.Observability;

/// <summary>
/// --log-format json on every service: what each writes while starting (each has something to say:
/// a fresh CA, no control plane, no xDS stream) is one JSON object per line, with a timestamp,
/// level, rendered message and the service's name (and edge, where it has one). The per-webhook
/// fields (event id, flow, trace) are checked in Egress.Tests: TraceAndLogTests.
/// </summary>
public sealed class JsonLogsTests : IDisposable
{
    private readonly ServiceCommand _scratch = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("zenmesh-json-logs-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _scratch.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Dir(string name) => Directory.CreateDirectory(Path.Combine(_dir, name)).FullName;

    public static TheoryData<string> Services => new() { "control-plane", "agent", "ingester", "egress" };

    [Theory]
    [MemberData(nameof(Services))]
    public async Task WithJson_EveryLineIsOneJsonObject_NamingTheServiceAndEdge(string service)
    {
        var output = new LogLines();
        void Configure(WebApplicationBuilder b) => b.Services.AddSingleton(new LogOutput(output));
        string[] json = ["--log-format", "json"];
        string? edge = service == "control-plane" ? null : ServiceCommand.EdgeNodeId;
        if (service == "agent")
        {
            _scratch.Enroll("/var/lib/zenmesh/agent");
        }
        await using var app = service switch
        {
            "control-plane" => XdsServerApp.Build(["--data-dir", Dir("xds"), "--ads-port", "0", "--http-port", "0", .. json], Configure),
            "agent" => AgentApp.Build(["--state-dir", _scratch.Local("/var/lib/zenmesh/agent"), "--control-plane", "https://127.0.0.1:9", "--xds-port", "0", "--status-port", "0", .. json], Configure),
            "ingester" => IngesterApp.Build(["--data-dir", Dir("ingester"), "--port", "0", "--stream-port", "0", "--xds", "http://127.0.0.1:9", "--edge", edge!, .. json], Configure),
            _ => EgressApp.Build(["--data-dir", Dir("egress"), "--port", "0", "--direct", "--xds", "http://127.0.0.1:9", "--edge", edge!, .. json], Configure),
        };
        await app.StartAsync();
        await TestTimeouts.Eventually(() => Task.FromResult(output.Complete().Length > 0), $"the {service} to log something");
        await app.StopAsync();

        Assert.All(output.Complete(), line =>
        {
            var entry = JsonDocument.Parse(line).RootElement;
            Assert.Equal(JsonValueKind.Object, entry.ValueKind);
            Assert.True(entry.TryGetProperty("@t", out _), line);
            Assert.True(entry.TryGetProperty("@m", out _), line);
            Assert.Equal(service, entry.GetProperty("service").GetString());
            Assert.Equal(edge, entry.TryGetProperty("edge", out var e) ? e.GetString() : null);
        });
    }
}
