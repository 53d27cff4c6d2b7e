using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Handoff;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Handoff;

/// <summary>
/// zenmesh.v1.Events/Subscribe on a running ingester, through a real gRPC client on the stream
/// port: jobs for the subscribed flows, no more unacknowledged than asked for, the same job again
/// after its lease or its subscriber's departure, and gone for good once acknowledged.
/// </summary>
public sealed class EventsServiceTests : IAsyncLifetime, IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-handoff-").FullName;
    private WebApplication _app = null!;
    private HttpClient _http = null!;
    private GrpcChannel _channel = null!;

    public async Task InitializeAsync()
    {
        _app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9"], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        _app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy
        {
            Tenant = "default", Endpoint = "orders", Provider = "none",
            Flows =
            {
                new FlowRoute { Flow = "to-billing", EventTypes = { "invoice.*" }, Enabled = true },
                new FlowRoute { Flow = "to-audit", EventTypes = { "*" }, Enabled = true },
                new FlowRoute { Flow = "paused", EventTypes = { "*" }, Enabled = false },
            },
        }]);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = IngesterPorts.Hooks(_app) };
        _channel = GrpcChannel.ForAddress(IngesterPorts.Stream(_app));
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        _http.Dispose();
        await _app.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    public void Dispose()
    {
        _channel?.Dispose();
        _http?.Dispose();
    }

    /// <summary>What the egress presents: the secret the ingester wrote to its data directory.</summary>
    private Metadata StreamSecret() => new() { { "authorization", $"Bearer {File.ReadAllText(Path.Combine(_dataDir, "stream-secret")).Trim()}" } };

    private async Task<string> PostAsync(string type)
    {
        using var response = await _http.PostAsync("/hooks/default/orders", new StringContent($$"""{"id":"{{Guid.NewGuid()}}","type":"{{type}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
    }

    private Subscriber Subscribe(uint maxUnacked = 100, int leaseSeconds = 30, params string[] flows)
    {
        var call = new Events.EventsClient(_channel).Subscribe(StreamSecret());
        call.RequestStream.WriteAsync(new SubscribeRequest { Subscription = new Subscription { Consumer = "test-egress", MaxUnacked = maxUnacked, Lease = Duration.FromTimeSpan(TimeSpan.FromSeconds(leaseSeconds)), Flows = { flows } } }).Wait(TestTimeouts.Default);
        return new Subscriber(call);
    }

    /// <summary>A subscription as the egress holds it: one read outstanding at a time, kept across a check that nothing came.</summary>
    private sealed class Subscriber(AsyncDuplexStreamingCall<SubscribeRequest, DeliveryJob> call) : IDisposable
    {
        private Task<bool>? _next;

        public async Task<DeliveryJob> NextAsync(TimeSpan? within = null)
        {
            _next ??= call.ResponseStream.MoveNext();
            var more = await _next.WaitAsync(within ?? TestTimeouts.Default);
            _next = null;
            Assert.True(more, "the stream ended");
            return call.ResponseStream.Current;
        }

        public Task<RpcException> FailureAsync() => Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext().WaitAsync(TestTimeouts.Default));

        public Task AckAsync(params DeliveryJob[] jobs) =>
            call.RequestStream.WriteAsync(new SubscribeRequest { Acks = new JobAcks { JobIds = { jobs.Select(j => j.JobId) } } });

        public Task LeaveAsync() => call.RequestStream.CompleteAsync();

        public void Dispose() => call.Dispose();
    }

    [Fact]
    public async Task AStoredEvent_ReachesTheSubscriber_AsOneJobPerMatchingEnabledFlow()
    {
        var invoice = await PostAsync("invoice.paid");
        var other = await PostAsync("customer.created");
        using var call = Subscribe();

        var jobs = new[] { await call.NextAsync(), await call.NextAsync(), await call.NextAsync() };

        Assert.Equal(new[] { $"{invoice}/to-billing", $"{invoice}/to-audit", $"{other}/to-audit" }.Order(), jobs.Select(j => j.JobId).Order());
        var job = jobs.Single(j => j.Flow == "to-billing");
        Assert.Equal(("default", "orders", "invoice.paid", 1u), (job.Tenant, job.Endpoint, job.EventType, job.HandedOut));
        Assert.Contains("\"invoice.paid\"", job.Body.ToStringUtf8(), StringComparison.Ordinal);
        Assert.Equal("application/json; charset=utf-8", job.Headers["Content-Type"]);
        // Nothing else can come: the three it holds are every job there is.
        Assert.Equal(3, _app.Services.GetRequiredService<IEventStore>().OpenJobs);
    }

    [Fact]
    public async Task TheJob_CarriesTheWebhooksHeaders_ExceptCredentials()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/default/orders")
        {
            Content = new StringContent($$"""{"id":"{{Guid.NewGuid()}}","type":"invoice.paid"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer not-for-the-egress");
        request.Headers.TryAddWithoutValidation("Cookie", "session=secret");
        request.Headers.TryAddWithoutValidation("X-Tag", ["a", "b"]);
        request.Headers.TryAddWithoutValidation("X-Quote", "say \"hi\"\\ ok");
        using (var response = await _http.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using var call = Subscribe(flows: "to-billing");

        var job = await call.NextAsync();

        Assert.False(job.Headers.ContainsKey("Authorization"), string.Join(", ", job.Headers.Keys));
        Assert.False(job.Headers.ContainsKey("Cookie"), string.Join(", ", job.Headers.Keys));
        Assert.Equal(("a, b", "say \"hi\"\\ ok"), (job.Headers["X-Tag"], job.Headers["X-Quote"]));
    }

    [Fact]
    public async Task ASubscriber_IsSentNewJobsAsTheyAreStored_OnlyForItsFlows()
    {
        using var call = Subscribe(flows: "to-billing");
        Assert.Equal(0, _app.Services.GetRequiredService<IEventStore>().OpenJobs);

        await PostAsync("customer.created");
        var invoice = await PostAsync("invoice.created");

        Assert.Equal($"{invoice}/to-billing", (await call.NextAsync()).JobId);
        // Nothing else can come to it: no other to-billing job is there to hand out (the to-audit ones are not its).
        Assert.Empty(await _app.Services.GetRequiredService<IEventStore>().LeaseAsync(new HashSet<string> { "to-billing" }, 10, TimeSpan.FromSeconds(30), CancellationToken.None));
        Assert.Equal(3, _app.Services.GetRequiredService<IEventStore>().OpenJobs);
    }

    [Fact]
    public async Task ASubscriber_HoldsNoMoreThanMaxUnacked_AndAnAckMakesRoom()
    {
        for (var i = 0; i < 3; i++)
        {
            await PostAsync("customer.created");
        }
        using var call = Subscribe(maxUnacked: 2, flows: "to-audit");
        var first = await call.NextAsync();
        await call.NextAsync();

        // The server says when it has stopped for this subscriber's acknowledgements; from then on,
        // what it handed out is final until an ack: exactly the two, with a third job waiting.
        var handoff = _app.Services.GetRequiredService<HandoffCounters>();
        await TestTimeouts.Eventually(() => Task.FromResult(handoff.SubscribersAtLimit == 1), "the subscriber is at its limit of unacknowledged jobs");
        Assert.Equal(2, handoff.LeasedTotal);
        Assert.Equal(3, _app.Services.GetRequiredService<IEventStore>().OpenJobs);

        await call.AckAsync(first);

        var third = await call.NextAsync();
        Assert.Equal(1u, third.HandedOut);
        Assert.Equal(2, _app.Services.GetRequiredService<IEventStore>().OpenJobs);
    }

    [Fact]
    public async Task AJobNotAcknowledgedInItsLease_IsHandedOutAgain_WithTheSameId()
    {
        await PostAsync("customer.created");
        using var call = Subscribe(leaseSeconds: 1, flows: "to-audit");

        var first = await call.NextAsync();
        var again = await call.NextAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(first.JobId, again.JobId);
        Assert.Equal(2u, again.HandedOut);
    }

    [Fact]
    public async Task TheJobsOfASubscriberThatLeaves_GoToTheNextAtOnce_AndAnAckedJobNever()
    {
        await PostAsync("customer.created");
        await PostAsync("customer.created");
        DeliveryJob kept, acked;
        using (var leaving = Subscribe(leaseSeconds: 3600, flows: "to-audit"))
        {
            acked = await leaving.NextAsync();
            kept = await leaving.NextAsync();
            await leaving.AckAsync(acked);
            await leaving.LeaveAsync();
            await WaitUntilAsync(() => _app.Services.GetRequiredService<IEventStore>().OpenJobs == 1);
        }

        using var next = Subscribe(leaseSeconds: 3600, flows: "to-audit");

        Assert.Equal(kept.JobId, (await next.NextAsync()).JobId);
        // The acknowledged job is gone from the store, so it can never be handed out again.
        Assert.Equal(1, _app.Services.GetRequiredService<IEventStore>().OpenJobs);
    }

    [Theory]
    [InlineData(20_000u, 30, "subscription refused: max_unacked is 20000; use 1 to 10000 (0 means 100).")]
    [InlineData(10u, 7200, "subscription refused: lease is 7200s; use 1s to 3600s (absent means 30s).")]
    public async Task ABadSubscription_IsRefused_SayingWhatToChange(uint maxUnacked, int leaseSeconds, string expected)
    {
        using var call = Subscribe(maxUnacked, leaseSeconds);

        var error = await call.FailureAsync();

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(expected, error.Status.Detail);
    }

    [Fact]
    public async Task AStreamThatStartsWithoutASubscription_IsRefused()
    {
        using var call = new Events.EventsClient(_channel).Subscribe(StreamSecret());
        await call.RequestStream.WriteAsync(new SubscribeRequest { Acks = new JobAcks { JobIds = { "x" } } });

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext().WaitAsync(TestTimeouts.Default));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("the first message on Events/Subscribe must be a subscription", error.Status.Detail, StringComparison.Ordinal);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
