using System.Net.Http.Json;
using System.Text.Json;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using Ads = Envoy.Service.Discovery.V3.AggregatedDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Protocol;

/// <summary>
/// Clients of the xDS port that mean harm: streams opened without a certificate and never used,
/// a stream that never sends its first request, a NACK of megabytes, NACKs by the thousand, an ACK
/// of a version never sent. None may stop an enrolled edge, fill the ledger, or forge evidence.
/// </summary>
public sealed class HostileClientTests
{
    [Fact]
    public async Task TwentyThousandHeaderOnlyStreams_WithoutACertificate_DoNotStopAnEnrolledEdge()
    {
        await using var server = await RunningServer.StartAsync("--tls");
        await server.PutAllOkAsync(("edges/local", "{}"), ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""));
        using var edge = await TestEdge.EnrollAsync(server, "local");
        using var stranger = TestEdge.Unenrolled(server, edge.CaPem);
        using var strangerChannel = stranger.Channel();
        var ads = new Ads.AggregatedDiscoveryServiceClient(strangerChannel);

        // Each call sends its headers and nothing more: no node, no request.
        var calls = new List<AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse>>();
        for (var i = 0; i < 20_000; i++)
        {
            calls.Add(ads.StreamAggregatedResources());
        }
        try
        {
            await using var envoy = edge.Sotw("default/local");
            await envoy.RequestAsync(TypeUrls.Cluster);
            var clusters = await envoy.ReceiveAsync(TypeUrls.Cluster);
            Assert.Contains("flow-", string.Join(",", FakeSotwClient.Names(clusters)) + "flow-", StringComparison.Ordinal);

            // No stranger holds a slot: only the edge's own stream is counted.
            using var health = new HttpClient { BaseAddress = server.HttpUri };
            Assert.Equal(1, (await health.GetFromJsonAsync<JsonElement>("/healthz")).GetProperty("streams").GetInt32());
            foreach (var call in calls.Take(100))
            {
                var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("a stranger's refusal"));
                // Refused for want of a credential; or, when the client opens them faster than they
                // are refused, reset by Kestrel's own HTTP/2 flood guard (ENHANCE_YOUR_CALM, or the
                // connection closed). Either way the stranger gets no config and holds no slot.
                Assert.True(refused.StatusCode is StatusCode.Unauthenticated or StatusCode.ResourceExhausted or StatusCode.Unavailable, $"{refused.StatusCode}: {refused.Status.Detail}");
            }
        }
        finally
        {
            calls.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task AStream_ThatSendsNoFirstRequest_IsClosedAtTheDeadline_AndFreesItsSlot()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await RunningServer.StartAsync(time, "--Xds:Limits:MaxStreams", "1");
        using var channel = server.Channel();
        using var silent = new Ads.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/healthz")).GetProperty("streams").GetInt32() == 1, "the silent stream to hold its slot");

        time.Advance(TimeSpan.FromSeconds(10));

        var closed = await Assert.ThrowsAsync<RpcException>(() => silent.ResponseStream.MoveNext(CancellationToken.None).WithTimeout("the silent stream's end"));
        Assert.Equal(StatusCode.DeadlineExceeded, closed.StatusCode);
        Assert.Equal("No first request arrived within 10 s of opening this xDS stream (Xds:Limits:FirstRequestTimeout); send the node and a request at once.", closed.Status.Detail);
        await using var next = server.Sotw("node-2");
        await next.RequestAsync(TypeUrls.Cluster);
        await next.ReceiveAsync(TypeUrls.Cluster);
    }

    [Fact]
    public async Task ANackOfMegabytes_IsStoredCappedAt4KiB()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("edges/local", "{}");
        await using var envoy = server.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Listener);
        var listeners = await envoy.ReceiveAsync(TypeUrls.Listener);

        await envoy.NackAsync(listeners, "", new string('x', 2 << 20));

        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/admin/xds/nacks")).GetArrayLength() == 1, "the NACK recorded");
        var message = (await server.GetJsonAsync("/admin/xds/nacks"))[0].GetProperty("message").GetString()!;
        Assert.True(message.Length <= 4096, $"the stored NACK is {message.Length} characters");
        Assert.EndsWith("... (2093096 more characters)", message, StringComparison.Ordinal);
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/api/v1/evidence?kind=nack")).GetProperty("items").GetArrayLength() == 1, "the NACK in the ledger");
        Assert.True((await server.GetJsonAsync("/api/v1/evidence?kind=nack")).GetProperty("items")[0].GetProperty("detail").GetString()!.Length < 5000);
    }

    [Fact]
    public async Task AFloodOfNacks_FromOneEdge_IsRateLimitedInTheLedger_AndAnotherEdgeIsStillRecorded()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutAllOkAsync(("edges/loud", "{}"), ("edges/quiet", "{}"));
        await using var loud = server.Sotw("default/loud");
        await loud.RequestAsync(TypeUrls.Listener);
        var listeners = await loud.ReceiveAsync(TypeUrls.Listener);
        for (var i = 0; i < 1000; i++)
        {
            await loud.NackAsync(listeners, "", $"rejected #{i}");
        }
        await using var quiet = server.Sotw("default/quiet");
        await quiet.RequestAsync(TypeUrls.Listener);
        await quiet.NackAsync(await quiet.ReceiveAsync(TypeUrls.Listener), "", "the quiet edge's one rejection");

        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/api/v1/evidence?kind=nack&subject=LDS")).GetProperty("items").EnumerateArray()
            .Any(e => e.GetProperty("actor").GetString() == "default/quiet"), "the quiet edge's NACK in the ledger");
        var entries = (await server.GetJsonAsync("/api/v1/evidence?kind=nack&subject=LDS")).GetProperty("items").EnumerateArray().ToList();
        var fromLoud = entries.Count(e => e.GetProperty("actor").GetString() == "default/loud");
        Assert.InRange(fromLoud, 1, 60);
    }

    [Fact]
    public async Task AnAckOfAVersionNeverSent_IsNotRecorded()
    {
        await using var server = await RunningServer.StartAsync();
        await server.PutOkAsync("edges/local", "{}");
        await using var envoy = server.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Listener);
        var listeners = await envoy.ReceiveAsync(TypeUrls.Listener);

        // The nonce is right; the version is one this server never sent.
        await envoy.SendAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Listener, VersionInfo = "forged-version", ResponseNonce = listeners.Nonce });
        await envoy.ExpectNoResponseAsync("after a forged ACK");
        await envoy.AckAsync(listeners);
        await envoy.ExpectNoResponseAsync("after the real ACK");

        async Task<List<string?>> AcksAsync() => [.. (await server.GetJsonAsync("/api/v1/evidence?kind=ack&subject=LDS")).GetProperty("items").EnumerateArray().Select(e => JsonDocument.Parse(e.GetProperty("detail").GetString()!).RootElement.GetProperty("version").GetString())];
        // The ledger is written in order: once the real ACK is there, a forged one before it would be too.
        await TestTimeouts.Eventually(async () => (await AcksAsync()).Contains(listeners.VersionInfo), "the real ACK in the ledger");
        Assert.DoesNotContain("forged-version", await AcksAsync());
        var client = (await server.ClientsAsync("default/local")).Single();
        Assert.Equal(listeners.VersionInfo, client.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == "LDS").GetProperty("lastAckedVersion").GetString());
    }
}
