using System.Net;
using System.Text;
using Microsoft.Data.Sqlite;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Storage;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Api;

/// <summary>Desired state survives restarts (SQLite in the data directory) and is served before any API call.</summary>
public sealed class DurableStateTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-durable-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Restart_ServesWhatWasStored_ToTheEdgeAtOnce()
    {
        await using (var first = await RunningServer.StartAsync("--data-dir", _dataDir))
        {
            await first.PutOkAsync("edges/local", """{"mode":"vm"}""");
            await first.PutOkAsync("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}""");
            await first.PutOkAsync("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}""");
            await first.PutOkAsync("flows/gh-orders", """{"endpoint":"gh","target":"orders","maxInFlight":9}""");
        }

        await using var second = await RunningServer.StartAsync("--data-dir", _dataDir);
        await using var envoy = second.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Cluster);
        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], FakeSotwClient.Names(await envoy.ReceiveAsync(TypeUrls.Cluster)));
        var flow = await second.GetJsonAsync("/api/v1/flows/gh-orders");
        Assert.Equal(9, flow.GetProperty("maxInFlight").GetInt32());
    }

    [Fact]
    public async Task Delete_IsDurableToo()
    {
        await using (var first = await RunningServer.StartAsync("--data-dir", _dataDir))
        {
            await first.PutOkAsync("edges/a", "{}");
            await first.PutOkAsync("edges/b", "{}");
            using var deleted = await first.Http.DeleteAsync("/api/v1/edges/a");
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        await using var second = await RunningServer.StartAsync("--data-dir", _dataDir);
        var edges = await second.GetJsonAsync("/api/v1/edges");
        Assert.Equal(["b"], edges.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Start_OnAStoredRowThatCannotBeRead_IsRefusedNamingTheRow()
    {
        await using (var first = await RunningServer.StartAsync("--data-dir", _dataDir))
        {
            await first.PutOkAsync("edges/local", "{}");
        }
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(_dataDir, "zenmesh.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "UPDATE resources SET spec = '{\"mode\": 7}' WHERE name = 'local'";
            command.ExecuteNonQuery();
        }

        var error = await Assert.ThrowsAsync<DesiredStateLoadException>(() => RunningServer.StartAsync("--data-dir", _dataDir));
        Assert.StartsWith("edges/local (tenant default): ", error.Problems.Single());
        Assert.Contains(Path.Combine(_dataDir, "zenmesh.db"), error.Message);
    }
}
