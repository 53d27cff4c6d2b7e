using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Intake;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Intake;

/// <summary>
/// Senders that hold the intake's memory hostage: each announces a 1 MiB body and trickles it.
/// The ingester must not set aside what they announce before it arrives, and must drop them once
/// they fall below the minimum data rate.
/// </summary>
[Collection(RunsAlone.Name)]
public sealed class HostileSenderTests : IAsyncLifetime
{
    private const int Senders = 200;
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-slow-").FullName;
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        _app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _dataDir, "--xds", "http://127.0.0.1:9"], b => b.Logging.SetMinimumLevel(LogLevel.Error));
        _app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy { Tenant = "default", Endpoint = "big", Provider = "none", MaxBodyBytes = 1 << 20 }]);
        await _app.StartAsync();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task HundredsOfSlowSenders_AnnouncingAMebibyteEach_DoNotTakeWhatTheyAnnounce_AndAreDropped()
    {
        var counters = _app.Services.GetRequiredService<IntakeCounters>();
        var hooks = IngesterPorts.Hooks(_app);
        var sockets = new List<Socket>();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        try
        {
            for (var i = 0; i < Senders; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, hooks.Port);
                var head = $"POST /hooks/default/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {1 << 20}\r\n\r\n{{\"id\":\"{i}\"";
                await socket.SendAsync(Encoding.ASCII.GetBytes(head));
                sockets.Add(socket);
            }
            await TestTimeouts.Eventually(() => Task.FromResult(counters.BodiesBeingRead == Senders), $"all {Senders} bodies being read (now {counters.BodiesBeingRead})");

            // What the ingester holds for them, by its own count, and what the whole process
            // allocated meanwhile (this class runs alone, so no other test's allocations count).
            Assert.True(counters.BodyBytesHeld <= Senders * 16L * 1024, $"{Senders} senders of a few bytes each hold {counters.BodyBytesHeld >> 10} KiB");
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            Assert.True(allocated < 64L << 20, $"{Senders} senders of a few bytes each took {allocated >> 20} MiB");

            // Below the minimum data rate, each is dropped: nothing they hold stays.
            await TestTimeouts.Eventually(() => Task.FromResult(counters.BodiesBeingRead == 0), $"the slow senders dropped (still {counters.BodiesBeingRead})", TimeSpan.FromSeconds(60));
            Assert.Equal(0, counters.Get("accepted"));
            Assert.Equal(0, counters.BodyBytesHeld);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }
}
