using System.Security.Cryptography;
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
