using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Services;

/// <summary>
/// Bytes that are not the message a method expects, sent to every kind of gRPC call the control
/// plane serves (ADS and delta streams, fetch, CSDS, enrollment, reports): each call ends with
/// INVALID_ARGUMENT saying what could not be parsed, never UNKNOWN (an unhandled failure).
/// </summary>
public sealed class MalformedMessageTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string> Methods => new()
    {
        "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
        "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
        "/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters",
        "/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus",
        "/zenmesh.v1.EdgeEnrollment/Enroll",
        "/zenmesh.v1.EdgeReports/Report",
    };

    [Fact]
    public async Task AMalformedStream_IsLoggedOnce_AtInformation()
    {
        var entries = new System.Collections.Concurrent.ConcurrentQueue<(Microsoft.Extensions.Logging.LogLevel Level, string Message)>();
        await using var server = await RunningServer.StartAsync(null, b =>
        {
            b.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Information);
            b.Logging.AddProvider(new CapturingLogs(entries));
        });
        var payload = RandomNumberGenerator.GetBytes(64);
        payload[0] = 0x0F;

        await RawGrpc.CallAsync(server.AdsUri, "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources", payload);

        await TestTimeouts.Eventually(() => Task.FromResult(entries.Any(e => e.Message.Contains("parse", StringComparison.Ordinal))), "the refusal logged");
        // The stream's own end is reported after the refusal, if at all: wait for the call to be over.
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/healthz")).GetProperty("streams").GetInt32() == 0, "the stream gone");
        var about = entries.Where(e => e.Message.Contains("InvalidArgument", StringComparison.Ordinal) || e.Message.Contains("parse", StringComparison.Ordinal)).ToList();
        Assert.True(about.Count == 1 && about[0].Level == Microsoft.Extensions.Logging.LogLevel.Information, string.Join(" || ", about.Select(e => $"{e.Level}: {e.Message}")));
        Assert.DoesNotContain(entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("Aggregated", StringComparison.Ordinal));
    }

    private sealed class CapturingLogs(System.Collections.Concurrent.ConcurrentQueue<(Microsoft.Extensions.Logging.LogLevel, string)> entries) : Microsoft.Extensions.Logging.ILoggerProvider
    {
        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(entries);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<(Microsoft.Extensions.Logging.LogLevel, string)> entries) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue((logLevel, formatter(state, exception) + " " + exception?.Message));
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task RandomBytes_AreInvalidArgument_SayingWhatCouldNotBeParsed(string method)
    {
        for (var i = 0; i < 20; i++)
        {
            // A field tag with wire type 7 never parses: every payload here is malformed.
            var payload = RandomNumberGenerator.GetBytes(64);
            payload[0] = 0x0F;
            var (status, message) = await RawGrpc.CallAsync(_server.AdsUri, method, payload);
            Assert.True(status == 3, $"{method} answered status {status} ({message}) to random bytes #{i}");
            Assert.StartsWith("The request could not be parsed as ", message, StringComparison.Ordinal);
        }
    }
}
