using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Evidence;

public sealed class EvidenceLedgerTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-evidence-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private Task<RunningServer> StartAsync() => RunningServer.StartAsync("--data-dir", _dataDir);

    private static async Task<JsonElement[]> EvidenceAsync(RunningServer server, string query = "") =>
        [.. (await server.GetJsonAsync($"/api/v1/evidence{query}")).GetProperty("items").EnumerateArray()];

    private void Tamper(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_dataDir, "zenmesh.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        Assert.Equal(1, command.ExecuteNonQuery());
    }

    [Fact]
    public async Task Changes_AreRecordedWithWhoAndTheEdgeVersions_AndEdgeAcksAndNacksToo()
    {
        await using var server = await StartAsync();
        await server.PutOkAsync("edges/local", "{}");
        await server.PutOkAsync("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/"}""");

        var changes = await EvidenceAsync(server, "?kind=change");
        Assert.Equal(["edges/local", "targets/orders"], changes.Select(c => c.GetProperty("subject").GetString()));
        var detail = JsonDocument.Parse(changes[1].GetProperty("detail").GetString()!).RootElement;
        Assert.Equal("created", detail.GetProperty("action").GetString());
        Assert.False(string.IsNullOrEmpty(detail.GetProperty("versions").GetProperty("default/local").GetString()));
        Assert.All(changes, c => Assert.False(string.IsNullOrEmpty(c.GetProperty("actor").GetString())));

        await server.PutOkAsync("endpoints/gh", """{"edge":"local","provider":"none"}""");
        await using var envoy = server.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Listener);
        var listeners = await envoy.ReceiveAsync(TypeUrls.Listener);
        await envoy.AckAsync(listeners);
        await envoy.RequestAsync(TypeUrls.Cluster);
        await envoy.NackAsync(await envoy.ReceiveAsync(TypeUrls.Cluster), "", "cluster rejected for the test");

        await TestTimeouts.Eventually(async () => (await EvidenceAsync(server, "?kind=nack")).Length == 1, "the NACK is in the ledger");
        var ack = Assert.Single(await EvidenceAsync(server, "?kind=ack"));
        Assert.Equal(("default/local", "LDS"), (ack.GetProperty("actor").GetString(), ack.GetProperty("subject").GetString()));
        Assert.Contains(listeners.VersionInfo, ack.GetProperty("detail").GetString());
        Assert.Contains("cluster rejected for the test", (await EvidenceAsync(server, "?kind=nack"))[0].GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Verify_AnIntactChain_IsValid_AcrossRestarts()
    {
        await using (var first = await StartAsync())
        {
            await first.PutOkAsync("edges/a", "{}");
            await first.PutOkAsync("edges/b", "{}");
        }
        await using var second = await StartAsync();
        await second.PutOkAsync("edges/c", "{}");

        var verify = await second.GetJsonAsync("/api/v1/evidence/verify");
        Assert.True(verify.GetProperty("valid").GetBoolean());
        Assert.Equal(3, verify.GetProperty("entries").GetInt64());
        Assert.Equal([1L, 2L, 3L], (await EvidenceAsync(second)).Select(e => e.GetProperty("seq").GetInt64()));
    }

    [Fact]
    public async Task Verify_AChangedEntry_IsCaught_NamingIt()
    {
        await using (var server = await StartAsync())
        {
            await server.PutOkAsync("edges/a", "{}");
            await server.PutOkAsync("edges/b", "{}");
        }
        Tamper("UPDATE evidence SET actor = 'someone-else' WHERE seq = 1");

        await using var again = await StartAsync();
        using var response = await again.Http.GetAsync("/api/v1/evidence/verify");
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var verify = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(verify.GetProperty("valid").GetBoolean());
        Assert.StartsWith("entry 1 hashes to ", verify.GetProperty("problem").GetString());
        Assert.EndsWith("its content was changed.", verify.GetProperty("problem").GetString());
    }

    [Fact]
    public async Task Verify_ARemovedEntry_IsCaught_AtTheNextOne()
    {
        await using (var server = await StartAsync())
        {
            await server.PutOkAsync("edges/a", "{}");
            await server.PutOkAsync("edges/b", "{}");
            await server.PutOkAsync("edges/c", "{}");
        }
        Tamper("DELETE FROM evidence WHERE seq = 2");

        await using var again = await StartAsync();
        using var response = await again.Http.GetAsync("/api/v1/evidence/verify");
        var problem = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("problem").GetString();
        Assert.StartsWith("entry 3 says the previous hash is ", problem);
    }

    [Fact]
    public async Task Evidence_BadFilter_Is400()
    {
        await using var server = await StartAsync();
        using var response = await server.Http.GetAsync("/api/v1/evidence?kind=rumour");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("kind 'rumour' is not a kind of evidence; use change, ack, nack or identity.", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }
}
