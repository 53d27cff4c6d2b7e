using Microsoft.Extensions.Logging.Abstractions;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Client;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Client;

/// <summary>
/// The one delta xDS client (the agent's, the ingester's and the egress's) applies a response before
/// it ACKs it: a state its service cannot apply is NACKed with the reason, the state before it is kept,
/// the stream and the service go on, and the next state is applied and ACKed.
/// </summary>
public sealed class DeltaClientTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutAllOkAsync(("edges/local", """{"mode":"vm"}"""), ("endpoints/gh", """{"edge":"local","provider":"none"}"""));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AStateTheServiceCannotApply_IsNacked_WithTheReason_AndTheNextOneIsApplied()
    {
        var applied = new List<Snapshot>();
        var refuseNext = true;
        using var stop = new CancellationTokenSource();
        var subscriber = new DeltaClient(_server.Channel(), new Envoy.Config.Core.V3.Node { Id = "default/local" }, [TypeUrls.EndpointPolicy], TimeProvider.System, NullLogger.Instance);
        var running = subscriber.RunAsync(Snapshot.Create([], "empty"), state =>
        {
            if (refuseNext)
            {
                refuseNext = false;
                throw new InvalidOperationException("endpoint 'gh' needs a provider this build lacks");
            }
            lock (applied)
            {
                applied.Add(state);
            }
        }, (_, _) => { }, stop.Token);

        await TestTimeouts.Eventually(async () => Nack(await _server.ClientsAsync("default/local")) is not null, "the control plane to record the NACK");
        Assert.Contains("endpoint 'gh' needs a provider this build lacks", Nack(await _server.ClientsAsync("default/local")), StringComparison.Ordinal);
        Assert.False(running.IsCompleted, "the subscriber stopped after a state it could not apply");

        await _server.PutAllOkAsync(("endpoints/stripe", """{"edge":"local","provider":"none"}"""));

        // As xDS has it: the refused resource is not sent again until it changes (or the stream starts over).
        await TestTimeouts.Eventually(() => Task.FromResult(Applied(applied)?.Get(TypeUrls.EndpointPolicy).Resources.ContainsKey("default/stripe") == true), "the next state to be applied");
        await TestTimeouts.Eventually(async () => Status(await _server.ClientsAsync("default/local")) == "SYNCED", "the control plane to see the next state ACKed");
        await stop.CancelAsync();
        await running.WaitAsync(TestTimeouts.Default);
    }

    private static Snapshot? Applied(List<Snapshot> applied)
    {
        lock (applied)
        {
            return applied.LastOrDefault();
        }
    }

    private static string? Status(System.Text.Json.JsonElement[] clients) =>
        clients.SelectMany(c => c.GetProperty("types").EnumerateArray()).Select(t => t.GetProperty("status").GetString()).FirstOrDefault();

    private static string? Nack(System.Text.Json.JsonElement[] clients) =>
        clients.SelectMany(c => c.GetProperty("types").EnumerateArray())
            .Select(t => t.TryGetProperty("lastNack", out var nack) && nack.ValueKind == System.Text.Json.JsonValueKind.Object ? nack.GetProperty("message").GetString() : null)
            .FirstOrDefault(m => m is not null);
}
