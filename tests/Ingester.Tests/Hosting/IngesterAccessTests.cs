using System.Net;
using System.Text;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Hosting;

/// <summary>
/// The ingester's route table, and the attacks it closes: its job stream carries every webhook's
/// body and headers, and any process that reached the port could subscribe, read them all, and
/// acknowledge (so delete) jobs leased to the real egress; webhooks could also be posted to the
/// stream port, past Envoy's ingress.
/// </summary>
public sealed class IngesterAccessTests : IAsyncLifetime
{
    /// <summary>The job stream (PerCall) checks the subscriber's stream secret on each call.</summary>
    public static readonly (string Route, string Listener, ServiceRouteAccess Access)[] Table =
    [
        ("POST /hooks/{tenant}/{endpoint}", "hooks", ServiceRouteAccess.Anyone),
        ("GET /healthz", "hooks", ServiceRouteAccess.Anyone),
        ("GET /status", "hooks", ServiceRouteAccess.LocalOrToken),
        ("GET /metrics", "hooks", ServiceRouteAccess.LocalOrToken),
        ("gRPC /zenmesh.v1.Events/*", "stream", ServiceRouteAccess.PerCall),
        ("gRPC /{unimplementedService}/*", "stream", ServiceRouteAccess.PerCall),
    ];

    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-ingester-access-").FullName;
    private WebApplication _app = null!;

    public async Task InitializeAsync() => _app = await StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private async Task<WebApplication> StartAsync(params string[] extra)
    {
        var app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9", .. extra], b => b.Logging.SetMinimumLevel(LogLevel.Warning));
        app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy
        {
            Tenant = "default", Endpoint = "orders", Provider = "none",
            Flows = { new FlowRoute { Flow = "to-billing", EventTypes = { "*" }, Enabled = true } },
        }]);
        await app.StartAsync().WithTimeout("the ingester to start");
        return app;
    }

    private string ApiToken => File.ReadAllText(Path.Combine(_dataDir, "api-token")).Trim();

    private string StreamSecret => File.ReadAllText(Path.Combine(_dataDir, "stream-secret")).Trim();

    private async Task PostWebhookAsync()
    {
        using var http = new HttpClient { BaseAddress = IngesterPorts.Hooks(_app) };
        using var response = await http.PostAsync("/hooks/default/orders", new StringContent($$"""{"id":"{{Guid.NewGuid()}}","type":"invoice.paid","card":"4242"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static AsyncDuplexStreamingCall<SubscribeRequest, DeliveryJob> Subscribe(GrpcChannel channel, string? secret)
    {
        var headers = new Metadata();
        if (secret is not null)
        {
            headers.Add("authorization", $"Bearer {secret}");
        }
        var call = new Events.EventsClient(channel).Subscribe(headers);
        try
        {
            call.RequestStream.WriteAsync(new SubscribeRequest { Subscription = new Subscription { Consumer = "someone", MaxUnacked = 10, Lease = Duration.FromTimeSpan(TimeSpan.FromSeconds(30)) } }).Wait(TestTimeouts.Default);
        }
        catch (AggregateException e) when (e.InnerException is RpcException)
        {
            // The ingester ended the call before the request went out (a refusal): the response says why.
        }
        return call;
    }

    [Fact]
    public async Task ASubscriber_WithoutTheStreamSecret_IsUnauthenticated_AndTakesNoJob()
    {
        await PostWebhookAsync();
        using var channel = GrpcChannel.ForAddress(IngesterPorts.Stream(_app));

        foreach (var secret in new[] { null, "zm_stream_" + new string('0', 64) })
        {
            using var call = Subscribe(channel, secret);
            var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("the refusal"));
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.StartsWith("Events/Subscribe needs the ingester's stream secret", refused.Status.Detail, StringComparison.Ordinal);
        }

        using var egress = Subscribe(channel, StreamSecret);
        Assert.True(await egress.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("a job for the egress"));
        Assert.Equal(1u, egress.ResponseStream.Current.HandedOut);
    }

    [Fact]
    public async Task RandomBytes_FromAnAuthenticatedSubscriber_AreInvalidArgument()
    {
        var payload = System.Security.Cryptography.RandomNumberGenerator.GetBytes(64);
        payload[0] = 0x0F;

        var (status, message) = await RawGrpc.CallAsync(IngesterPorts.Stream(_app), "/zenmesh.v1.Events/Subscribe", payload, [KeyValuePair.Create("authorization", $"Bearer {StreamSecret}")]);

        Assert.Equal((int)StatusCode.InvalidArgument, status);
        Assert.StartsWith("The request could not be parsed as zenmesh.v1.SubscribeRequest", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASubscriber_CannotAcknowledgeJobsLeasedToAnother()
    {
        await PostWebhookAsync();
        using var channel = GrpcChannel.ForAddress(IngesterPorts.Stream(_app));
        using var egress = Subscribe(channel, StreamSecret);
        Assert.True(await egress.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("the job"));
        var job = egress.ResponseStream.Current;

        // Another holder of the secret (a second egress, say) acknowledges the first one's job.
        using var other = Subscribe(channel, StreamSecret);
        await other.RequestStream.WriteAsync(new SubscribeRequest { Acks = new JobAcks { JobIds = { job.JobId } } });
        await other.RequestStream.CompleteAsync();
        egress.Dispose();

        // The first one's stream ended without an acknowledgement: the job comes again.
        using var again = Subscribe(channel, StreamSecret);
        Assert.True(await again.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("the job again"));
        Assert.Equal(job.JobId, again.ResponseStream.Current.JobId);
    }

    [Fact]
    public async Task TheStreamPort_ServesNoWebhook_AndTheHooksPortNoJobStream()
    {
        using var h2c = new HttpClient { BaseAddress = IngesterPorts.Stream(_app), DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        foreach (var path in new[] { "/hooks/default/orders", "/status", "/metrics", "/healthz" })
        {
            using var response = await h2c.PostAsync(path, new StringContent("""{"id":"x"}""", Encoding.UTF8, "application/json")).WithTimeout(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path} on the stream port answered {(int)response.StatusCode}.");
        }
    }

    [Fact]
    public void TheSecretFiles_AreTheOwnersAlone()
    {
        foreach (var name in new[] { "api-token", "stream-secret" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dataDir, name)));
        }
    }

    [Fact]
    public void TheStream_ListensOnLoopback_WhateverTheWebhookBindSays()
    {
        Assert.True(IPAddress.IsLoopback(_app.Services.GetRequiredService<IngesterEndpoints>().Stream.EndPoint.Address));
    }

    [Fact]
    public async Task TheStream_ListensOnLoopback_EvenWhenWebhooksBindWider()
    {
        await _app.DisposeAsync();
        _app = await StartAsync("--bind", "0.0.0.0");
        Assert.Equal(IPAddress.Any, _app.Services.GetRequiredService<IngesterEndpoints>().Hooks.EndPoint.Address);
        Assert.True(IPAddress.IsLoopback(_app.Services.GetRequiredService<IngesterEndpoints>().Stream.EndPoint.Address));
    }

    [Fact]
    public async Task WithAHealthPort_ProbesReachHealthzAlone_AndWebhooksStayOnLoopback()
    {
        await _app.DisposeAsync();
        _app = await StartAsync("--health-port", "0");
        var endpoints = _app.Services.GetRequiredService<IngesterEndpoints>();
        using var health = new HttpClient { BaseAddress = new UriBuilder(endpoints.Health.Uri) { Host = "127.0.0.1" }.Uri };

        Assert.Equal(IPAddress.Any, endpoints.Health.EndPoint.Address);
        Assert.True(IPAddress.IsLoopback(endpoints.Hooks.EndPoint.Address));
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await health.GetAsync("/status")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await health.PostAsync("/hooks/default/orders", new StringContent("{}", Encoding.UTF8, "application/json"))).StatusCode);
    }

    [Fact]
    public void EveryServedRoute_HasARow_OnItsListener_WithARule() => ServiceAccessChecks.HoldsTheTable(RouteTable.Of(_app.Services), Table);

    [Fact]
    public async Task EveryHttpRoute_AnswersEachCaller_AsTheTableSays_OnLoopback_AndBeyond()
    {
        var failures = new List<string>();
        await CallEveryRouteAsync(beyondLoopback: false, failures);
        await _app.DisposeAsync();
        _app = await StartAsync("--bind", "0.0.0.0");
        await CallEveryRouteAsync(beyondLoopback: true, failures);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private async Task CallEveryRouteAsync(bool beyondLoopback, List<string> failures) =>
        failures.AddRange(await ServiceAccessChecks.CallEveryRouteAsync(RouteTable.Of(_app.Services), Table, _app.Services.GetRequiredService<IngesterEndpoints>().Hooks.Uri, ApiToken, beyondLoopback,
            new Dictionary<string, string> { ["tenant"] = "default", ["endpoint"] = "orders" }, () => $$"""{"id":"{{Guid.NewGuid()}}"}"""));
}
