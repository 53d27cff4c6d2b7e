using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// Two ingesters on one PostgreSQL database: a redelivery to the other one is a duplicate (even
/// when both receive it at once), a job leased by one is not leased by the other until its lease
/// runs out, either can take the acknowledgement, and retention drops whole days for both.
/// </summary>
[Collection(PostgresTests.Name)]
public sealed class PostgresEventStoreTests(PostgresServerFixture postgres) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
    private PostgresEventStore _a = null!;
    private PostgresEventStore _b = null!;

    public async Task InitializeAsync()
    {
        if (LocalPostgres.Unavailable is not null)
        {
            return;
        }
        var database = await postgres.CreateDatabaseAsync();
        _a = Open(database);
        _b = Open(database);
    }

    public async Task DisposeAsync()
    {
        if (_a is not null)
        {
            await _a.DisposeAsync();
            await _b.DisposeAsync();
        }
    }

    private PostgresEventStore Open(string database) =>
        new(Options.Create(new IngesterOptions { Postgres = database, Retention = TimeSpan.FromDays(2) }), _time, NullLogger<PostgresEventStore>.Instance);

    private Task<StoredEvent> AppendAsync(PostgresEventStore store, string key, params string[] flows) =>
        store.AppendAsync(new IncomingEvent("default", "gh", key, "push", _time.GetUtcNow(), """{"X-GitHub-Event":"push"}"""u8.ToArray(), Encoding.UTF8.GetBytes($$"""{"key":"{{key}}"}"""), flows)).WaitAsync(TestTimeouts.Default);

    private static Task<IReadOnlyList<LeasedJob>> LeaseAsync(PostgresEventStore store, int max = 100, params string[] flows) =>
        store.LeaseAsync(flows.Length == 0 ? null : flows.ToHashSet(), max, Lease, CancellationToken.None).WaitAsync(TestTimeouts.Default);

    [PostgresFact]
    public async Task ARedeliveryToTheOtherIngester_IsADuplicate_EvenWhenBothGetItAtOnce()
    {
        var first = await AppendAsync(_a, "d-1", "to-ci");
        var again = await AppendAsync(_b, "d-1", "to-ci");
        var racing = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => AppendAsync(i % 2 == 0 ? _a : _b, "d-2", "to-ci")));

        Assert.Equal((first.Id, true), (again.Id, again.Duplicate));
        Assert.Single(racing, r => !r.Duplicate);
        Assert.Single(racing.Select(r => r.Id).Distinct());
        Assert.Equal(2, _a.Count("default", "gh"));
        Assert.Equal(2, _b.OpenJobs);
        Assert.Equal("""{"key":"d-1"}""", Encoding.UTF8.GetString(_b.Body(first.Id)!));
    }

    [PostgresFact]
    public async Task AJobLeasedByOneIngester_IsNotLeasedByTheOther_UntilItsLeaseRunsOut_AndEitherTakesTheAck()
    {
        var stored = await AppendAsync(_a, "d-1", "to-ci", "to-audit");

        var byB = await LeaseAsync(_b, flows: "to-ci");
        Assert.Equal([$"{stored.Id}/to-ci"], byB.Select(j => j.JobId));
        Assert.Equal(("default", "gh", "push", 1), (byB[0].Tenant, byB[0].Endpoint, byB[0].EventType, byB[0].HandedOut));
        Assert.Equal($"{stored.Id}/to-audit", Assert.Single(await LeaseAsync(_a)).JobId);
        Assert.Empty(await LeaseAsync(_a));

        _time.Advance(Lease);
        var again = Assert.Single(await LeaseAsync(_a, flows: "to-ci"));
        Assert.Equal((byB[0].JobId, 2), (again.JobId, again.HandedOut));

        Assert.Equal(1, await _b.AckAsync([again.JobId, "not-a-job"], CancellationToken.None));
        _time.Advance(Lease);
        Assert.Equal($"{stored.Id}/to-audit", Assert.Single(await LeaseAsync(_b)).JobId);
        Assert.Equal(1, _a.OpenJobs);
    }

    [PostgresFact]
    public async Task AReleasedJob_IsLeasedAgainAtOnce()
    {
        await AppendAsync(_a, "d-1", "to-ci");
        var held = Assert.Single(await LeaseAsync(_a));

        await _a.ReleaseAsync([held.JobId], CancellationToken.None);

        Assert.Equal(held.JobId, Assert.Single(await LeaseAsync(_b)).JobId);
    }

    [PostgresFact]
    public async Task TwoTenantsEdges_OnOneDatabase_WithAFlowOfTheSameName_NeverLeaseEachOthersJobs()
    {
        var database = await postgres.CreateDatabaseAsync();
        await using var acme = new PostgresEventStore(Options.Create(new IngesterOptions { Postgres = database, Edge = "acme/edge-1" }), _time, NullLogger<PostgresEventStore>.Instance);
        await using var globex = new PostgresEventStore(Options.Create(new IngesterOptions { Postgres = database, Edge = "globex/edge-9" }), _time, NullLogger<PostgresEventStore>.Instance);

        await acme.AppendAsync(new IncomingEvent("acme", "gh", "acme-1", "push", _time.GetUtcNow(), "{}"u8.ToArray(), """{"secret":"acme's"}"""u8.ToArray(), ["orders"])).WaitAsync(TestTimeouts.Default);

        Assert.Empty(await LeaseAsync(globex, 100, "orders"));
        Assert.Empty(await LeaseAsync(globex));
        var job = Assert.Single(await LeaseAsync(acme, 100, "orders"));
        Assert.Equal("acme", job.Tenant);
        Assert.Equal(0, await globex.AckAsync([job.JobId], CancellationToken.None).WaitAsync(TestTimeouts.Default));
    }

    [PostgresFact]
    public async Task TwoIngesterProcesses_OnOneDatabase_AnswerARedeliveryToEitherAsAReplay()
    {
        var database = await postgres.CreateDatabaseAsync();
        var apps = new List<WebApplication>();
        try
        {
            var clients = new List<HttpClient>();
            for (var i = 0; i < 2; i++)
            {
                var app = IngesterApp.Build([.. IngesterPorts.Args, "--postgres", database, "--data-dir", Directory.CreateTempSubdirectory("zenmesh-pg-ingester-").FullName, "--xds", "http://127.0.0.1:9"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
                app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy { Tenant = "default", Endpoint = "orders", Provider = "none" }]);
                await app.StartAsync();
                apps.Add(app);
                clients.Add(new HttpClient { BaseAddress = IngesterPorts.Hooks(app) });
            }

            using var first = await clients[0].PostAsync("/hooks/default/orders", new StringContent("""{"type":"order.paid"}""", Encoding.UTF8, "application/json"));
            using var again = await clients[1].PostAsync("/hooks/default/orders", new StringContent("""{"type":"order.paid"}""", Encoding.UTF8, "application/json"));

            Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, again.StatusCode));
            Assert.Equal("true", again.Headers.GetValues("Idempotent-Replay").Single());
            Assert.StartsWith("postgres://127.0.0.1:", JsonDocument.Parse(await clients[1].GetStringAsync("/status")).RootElement.GetProperty("store").GetString(), StringComparison.Ordinal);
            clients.ForEach(c => c.Dispose());
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.DisposeAsync();
            }
        }
    }

    [PostgresFact]
    public async Task Retention_DropsWholeDaysForEveryIngester_WithTheirJobs()
    {
        var old = await AppendAsync(_a, "old", "to-ci");
        _time.Advance(TimeSpan.FromDays(1));
        var kept = await AppendAsync(_b, "kept", "to-ci");
        _time.Advance(TimeSpan.FromDays(1.6));

        var result = await _b.ExpireAsync(CancellationToken.None);

        Assert.Equal(["20261123"], result.DroppedPartitions);
        Assert.Equal(1, result.DroppedJobs);
        Assert.Null(_a.Body(old.Id));
        Assert.NotNull(_a.Body(kept.Id));
        Assert.Equal(kept.Id, Assert.Single(await LeaseAsync(_a)).EventId);
    }
}
