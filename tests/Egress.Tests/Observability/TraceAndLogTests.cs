using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Observability;

/// <summary>
/// A webhook's trace, from the sender's traceparent through the ingester's store and the egress to
/// the target, and the structured logs on the way: the target gets a traceparent with the sender's
/// trace id and a parent that is ZenMesh's, not the sender's; with --otlp both services export their
/// spans to an OTLP collector; with --log-format json each line is one JSON object carrying the
/// event id, flow, edge and trace id.
/// </summary>
public sealed class TraceAndLogTests
{
    private const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string SenderSpan = "00f067aa0ba902b7";
    private const string SenderTraceParent = $"00-{TraceId}-{SenderSpan}-01";

    /// <summary>A stand-in OTLP/HTTP collector: keeps the bodies posted to /v1/traces.</summary>
    private sealed class Collector : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Collector(WebApplication app) => _app = app;

        public ConcurrentQueue<byte[]> Batches { get; } = new();
        public Uri Url { get; private set; } = null!;

        public static async Task<Collector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var collector = new Collector(app);
            app.MapPost("/v1/traces", async (HttpContext http) =>
            {
                using var body = new MemoryStream();
                await http.Request.Body.CopyToAsync(body);
                collector.Batches.Enqueue(body.ToArray());
                return Results.Ok();
            });
            await app.StartAsync();
            collector.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
            return collector;
        }

        /// <summary>Whether some exported batch holds <paramref name="bytes"/> (a raw trace id, a service or span name).</summary>
        public bool Saw(byte[] bytes) => Batches.Any(b => b.AsSpan().IndexOf(bytes) >= 0);

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }

    private static string? Property(JsonElement line, string name) => line.TryGetProperty(name, out var value) ? value.ToString() : null;

    [Fact]
    public async Task WithOtlpAndJsonLogs_TheSendersTraceReachesTheTarget_BothServicesExportSpans_AndLogLinesCarryEventFlowEdgeAndTrace()
    {
        await using var collector = await Collector.StartAsync();
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        var (ingesterLog, egressLog) = (new LogLines(), new LogLines());
        string[] args = ["--edge", "default/local", "--log-format", "json", "--otlp", collector.Url.ToString(),
            "--OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "--OTEL_BSP_SCHEDULE_DELAY=100", "--Logging:LogLevel:ZenMesh=Debug"];
        await using var mesh = await Mesh.StartAsync(new MeshTelemetry(args, ingesterLog, egressLog), Mesh.Flow("to-shop", target.Url));

        var eventId = await mesh.SendAsync(traceParent: SenderTraceParent);
        await mesh.WaitForAsync(eventId, "to-shop", "delivered");

        // The target: the sender's trace, continued by ZenMesh.
        var traceParent = Assert.Single(target.Requests).Headers["traceparent"];
        var parts = traceParent.Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal(TraceId, parts[1]);
        Assert.NotEqual(SenderSpan, parts[2]);

        // The collector: spans of both services in the sender's trace.
        await TestTimeouts.Eventually(() => Task.FromResult(
            collector.Saw(Convert.FromHexString(TraceId)) && collector.Saw("zenmesh-ingester"u8.ToArray()) && collector.Saw("zenmesh-egress"u8.ToArray())
            && collector.Saw("webhook ingest"u8.ToArray()) && collector.Saw("webhook deliver"u8.ToArray())), "both services' spans at the OTLP collector");

        // The logs: one JSON object per line, the event's lines carrying its id, flow, edge and trace.
        var intake = ingesterLog.Parsed().Single(l => Property(l, "event_id") == eventId);
        Assert.Equal(("ingester", "default/local", TraceId), (Property(intake, "service"), Property(intake, "edge"), Property(intake, "@tr")));
        Assert.Contains(eventId, Property(intake, "@m"));
        Assert.Equal(["to-shop"], intake.GetProperty("flows").EnumerateArray().Select(f => f.GetString()));
        // What the ingester stored for the egress to continue is its own span, not the sender's.
        var stored = (await mesh.GetJsonAsync($"/deliveries/{eventId}/to-shop")).GetProperty("delivery").GetProperty("traceParent").GetString();
        Assert.Equal($"00-{TraceId}-{Property(intake, "@sp")}-01", stored);
        var delivery = egressLog.Parsed().Single(l => Property(l, "event_id") == eventId);
        Assert.Equal(("egress", "default/local", "to-shop", TraceId), (Property(delivery, "service"), Property(delivery, "edge"), Property(delivery, "flow"), Property(delivery, "@tr")));
        Assert.Contains("delivered", Property(delivery, "@m"));
    }

    [Fact]
    public async Task ADeadLettersLogLine_NamesItsEventAndFlow()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(500));
        var egressLog = new LogLines();
        await using var mesh = await Mesh.StartAsync(new MeshTelemetry(["--edge", "default/local", "--log-format", "json"], TextWriter.Null, egressLog), Mesh.ShortLived("doomed", target.Url));

        var eventId = await mesh.SendAsync();
        await mesh.WaitForAsync(eventId, "doomed", "dead");

        await TestTimeouts.Eventually(() => Task.FromResult(egressLog.Parsed().Any(l => l.GetProperty("EventId").GetProperty("Id").GetInt32() == 6000)), "the dead letter's log line");
        var dead = egressLog.Parsed().Single(l => l.GetProperty("EventId").GetProperty("Id").GetInt32() == 6000);
        Assert.Equal((eventId, "doomed", "default/local"), (Property(dead, "event_id"), Property(dead, "flow"), Property(dead, "edge")));
        Assert.Equal("Warning", Property(dead, "@l"));
    }

    [Fact]
    public async Task WithoutOpenTelemetry_TheTraceIsStillCarried_AndAWebhookWithoutOneGetsItsOwn()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("to-shop", target.Url));

        var traced = await mesh.SendAsync(traceParent: SenderTraceParent);
        await mesh.WaitForAsync(traced, "to-shop", "delivered");
        var untraced = await mesh.SendAsync("""{"type":"order.created","id":2}""");
        await mesh.WaitForAsync(untraced, "to-shop", "delivered");

        var traceIds = target.Requests.OrderBy(r => r.At).Select(r => r.Headers["traceparent"].Split('-')[1]).ToList();
        Assert.Equal(TraceId, traceIds[0]);
        Assert.Matches("^[0-9a-f]{32}$", traceIds[1]);
        Assert.NotEqual(TraceId, traceIds[1]);
    }

    [Fact]
    public void ABadLogFormatOrCollectorUrl_IsAnOptionsErrorNamingTheSettingAndTheFix()
    {
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => ZenMesh.Egress.Hosting.EgressApp.Build(["--direct", "--log-format", "xml", "--otlp", "collector:4317"]));
        Assert.Contains("Logging:Format (--log-format) is 'xml'; use text (the default) or json", error.Message);
        Assert.Contains("(--otlp) is 'collector:4317'; use the OTLP collector's URL", error.Message);
    }
}
