using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Storage;

/// <summary>
/// Several replicas on one PostgreSQL: desired state, tokens and the ledger are shared; a change
/// made through one is served by the others within a second (LISTEN/NOTIFY); writers never lose
/// each other's changes.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class PostgresReplicaTests(PostgresServerFixture postgres)
{
    private static async Task<HttpResponseMessage> PutAsync(RunningServer server, string path, string json, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/{path}") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }
        return await server.Http.SendAsync(request).WithTimeout($"PUT {path}");
    }

    private static Task MinimalFlowAsync(RunningServer server, int maxInFlight) => server.PutAllOkAsync(
        ("edges/local", """{"mode":"vm"}"""),
        ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
        ("endpoints/gh", """{"edge":"local","provider":"github","secretRef":"gh"}"""),
        ("flows/gh-orders", $$"""{"endpoint":"gh","target":"orders","maxInFlight":{{maxInFlight}}}"""));

    private static uint MaxRequests(Envoy.Config.Cluster.V3.Cluster cluster) => cluster.CircuitBreakers.Thresholds.Single().MaxRequests ?? 0;

    [PostgresFact]
    public async Task AChangeThroughOneReplica_IsPushedToAnother_WithoutWaitingForItsPoll()
    {
        // The poll is set far beyond the test's wait, so only the notification can bring the change
        // in time. A wall-clock bound would be at the mercy of a loaded machine.
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await RunningServer.StartAsync("--postgres", database);
        await using var b = await RunningServer.StartAsync("--postgres", database, "--Xds:ReplicaPollInterval", "01:00:00");
        await MinimalFlowAsync(a, maxInFlight: 8);

        await using var envoy = b.Delta("default/local");
        await envoy.SubscribeAsync(TypeUrls.Cluster, "flow-gh-orders");
        var first = await envoy.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(8u, MaxRequests(first.Resources.Single().Resource_.Unpack<Envoy.Config.Cluster.V3.Cluster>()));
        await envoy.AckAsync(first);

        await a.PutOkAsync("flows/gh-orders", """{"endpoint":"gh","target":"orders","maxInFlight":99}""");
        var changed = await envoy.ReceiveAsync(TypeUrls.Cluster);
        Assert.Equal(99u, MaxRequests(changed.Resources.Single().Resource_.Unpack<Envoy.Config.Cluster.V3.Cluster>()));

        var seenByB = await b.GetJsonAsync("/api/v1/flows/gh-orders");
        Assert.Equal(99, seenByB.GetProperty("maxInFlight").GetInt32());
    }

    [PostgresFact]
    public async Task WritersOnTwoReplicas_HoldingTheSameETag_ExactlyOneWins()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await RunningServer.StartAsync("--postgres", database);
        await using var b = await RunningServer.StartAsync("--postgres", database);
        using var created = await PutAsync(a, "edges/contended", """{"mode":"vm"}""");
        var etag = created.Headers.ETag!.ToString();
        await TestTimeouts.Eventually(async () => (await b.Http.GetAsync("/api/v1/edges/contended")).StatusCode == HttpStatusCode.OK, "replica B to see the edge");

        var writers = Enumerable.Range(0, 16).Select(i => PutAsync(i % 2 == 0 ? a : b, "edges/contended", $$"""{"ingesterAddress":"127.0.0.1:{{9000 + i}}"}""", etag));
        var responses = await Task.WhenAll(writers);

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(15, responses.Count(r => r.StatusCode == HttpStatusCode.PreconditionFailed));
        var winner = responses.Single(r => r.StatusCode == HttpStatusCode.OK).Headers.ETag!.ToString();
        foreach (var server in new[] { a, b })
        {
            await TestTimeouts.Eventually(async () => (await server.Http.GetAsync("/api/v1/edges/contended")).Headers.ETag?.ToString() == winner, "both replicas to agree on the winner");
        }
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [PostgresFact]
    public async Task TokensCreatedAndRevokedOnOneReplica_CountOnTheOther()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await RunningServer.StartAsync("--postgres", database);
        // Replica B's poll is beyond the waits: only A's notification can make B change its mind in time.
        await using var b = await RunningServer.StartAsync("--postgres", database, "--Xds:ReplicaPollInterval", "01:00:00");
        using var created = await a.Http.PostAsync("/api/v1/tokens", new StringContent("""{"name":"ci","role":"viewer"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;

        using var viaB = new HttpClient { BaseAddress = b.HttpUri };
        viaB.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.GetProperty("token").GetString());
        await TestTimeouts.Eventually(async () => (await viaB.GetAsync("/api/v1/edges")).StatusCode == HttpStatusCode.OK, "replica B to accept a token created on A");

        using var revoked = await a.Http.DeleteAsync($"/api/v1/tokens/{token.GetProperty("id").GetString()}");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await TestTimeouts.Eventually(async () => (await viaB.GetAsync("/api/v1/edges")).StatusCode == HttpStatusCode.Unauthorized, "replica B to refuse a token revoked on A");
    }

    [PostgresFact]
    public async Task DesiredState_SurvivesEveryReplicaRestarting()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using (var first = await RunningServer.StartAsync("--postgres", database))
        {
            await MinimalFlowAsync(first, maxInFlight: 5);
            using var deleted = await first.Http.DeleteAsync("/api/v1/flows/gh-orders");
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            await first.PutOkAsync("flows/gh-orders-2", """{"endpoint":"gh","target":"orders","maxInFlight":7}""");
        }

        await using var second = await RunningServer.StartAsync("--postgres", database);
        await using var envoy = second.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Cluster);
        Assert.Equal(["flow-gh-orders-2", "zenmesh-ingester"], FakeSotwClient.Names(await envoy.ReceiveAsync(TypeUrls.Cluster)));
    }

    [PostgresFact]
    public async Task TheLedger_WrittenByTwoReplicas_IsOneVerifiableChain()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var a = await RunningServer.StartAsync("--postgres", database);
        await using var b = await RunningServer.StartAsync("--postgres", database);
        await Task.WhenAll(Enumerable.Range(0, 10).Select(i => (i % 2 == 0 ? a : b).PutOkAsync($"edges/e{i}", "{}")));

        var verify = await b.GetJsonAsync("/api/v1/evidence/verify");
        Assert.True(verify.GetProperty("valid").GetBoolean(), verify.ToString());
        var changes = await a.GetJsonAsync("/api/v1/evidence?kind=change&limit=100");
        Assert.Equal(10, changes.GetProperty("items").GetArrayLength());
    }

    [PostgresFact]
    public async Task AnEdgeEnrolledThroughOneReplica_IsServedByAnother_AndRotatingItOnTheFirstEndsItsStreamOnTheSecond()
    {
        var database = await postgres.CreateDatabaseAsync();
        var ca = Directory.CreateTempSubdirectory("zenmesh-shared-ca-").FullName;
        await using var a = await RunningServer.StartAsync("--postgres", database, "--tls", "--Xds:CaDirectory", ca);
        await using var b = await RunningServer.StartAsync("--postgres", database, "--tls", "--Xds:CaDirectory", ca, "--Xds:ReplicaPollInterval", "01:00:00");
        await MinimalFlowAsync(a, maxInFlight: 3);
        using var enrolledViaA = await TestEdge.EnrollAsync(a, "local");

        var edgeOnB = enrolledViaA.On(b);
        await using var envoy = edgeOnB.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Cluster);
        Assert.Equal(["flow-gh-orders", "zenmesh-ingester"], FakeSotwClient.Names(await envoy.ReceiveAsync(TypeUrls.Cluster)));

        await TestEdge.BundleAsync(a, "local", rotate: true);
        var ended = await envoy.FailureAsync().WithTimeout("replica B to end the revoked edge's stream");
        Assert.Equal(Grpc.Core.StatusCode.PermissionDenied, ended.StatusCode);
    }

    [Fact]
    public async Task AnUnreachableDatabase_StopsTheStart_SayingWhichAndWhy()
    {
        var port = TestPorts.ForAnotherProcess();
        var error = await Assert.ThrowsAnyAsync<Exception>(() => RunningServer.StartAsync("--postgres", $"Host=127.0.0.1;Port={port};Username=zenmesh;Database=zenmesh;Timeout=2"));
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [PostgresFact]
    public async Task SynchronousCommitOff_StopsTheStart_SayingHowToTurnItOn()
    {
        var database = await postgres.CreateDatabaseAsync();
        var off = new Npgsql.NpgsqlConnectionStringBuilder(database) { Options = "-c synchronous_commit=off" }.ToString();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => RunningServer.StartAsync("--postgres", off));

        Assert.Contains("synchronous_commit is off for PostgreSQL database", error.Message, StringComparison.Ordinal);
        Assert.Contains("ALTER ROLE ... SET synchronous_commit = on", error.Message, StringComparison.Ordinal);
    }
}
