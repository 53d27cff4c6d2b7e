using Envoy.Service.Discovery.V3;
using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;
using Csds = Envoy.Service.Status.V3.ClientStatusDiscoveryService;

namespace ZenMesh.XdsServer.Tests.Protocol;

/// <summary>
/// go-control-plane PR #615 (races in subscription bookkeeping dropped updates) and envoyproxy/gateway
/// #8276 (unlocked map reads): subscriptions, snapshots, connects and status reads all at once.
/// </summary>
public sealed class ChurnTests
{
    [Fact]
    public async Task Delta_SubscriptionChangesRacingSnapshotSwaps_EndWithTheClientHoldingExactlyTheFinalState()
    {
        await using var server = await RunningServer.StartAsync();
        server.Publish(Mesh(clusters: [("c0", 9000)]));
        await using var client = server.Delta("churner");
        // Like Envoy: hold only what is subscribed; an unsubscribed name is dropped by the client itself,
        // and a late update for it (already in flight) is ignored.
        var held = new Dictionary<string, string>();
        var wanted = new HashSet<string>();
        var reader = Task.Run(async () =>
        {
            while (true)
            {
                var response = await client.ReceiveAsync(TypeUrls.Endpoint);
                lock (held)
                {
                    foreach (var r in response.Resources.Where(r => wanted.Contains(r.Name)))
                    {
                        held[r.Name] = r.Version;
                    }
                    foreach (var name in response.RemovedResources)
                    {
                        held.Remove(name);
                    }
                }
                await client.AckAsync(response);
            }
        });

        Snapshot last = Snapshot.Empty;
        for (var i = 0; i < 40; i++)
        {
            // Never waiting for answers: subscribe, unsubscribe and swap snapshots back to back.
            lock (held)
            {
                wanted.UnionWith([$"c{i}", $"c{i + 1}"]);
                wanted.Remove($"c{i - 3}");
                held.Remove($"c{i - 3}");
            }
            await client.SendAsync(new DeltaDiscoveryRequest { TypeUrl = TypeUrls.Endpoint, ResourceNamesSubscribe = { $"c{i}", $"c{i + 1}" }, ResourceNamesUnsubscribe = { $"c{i - 3}" } });
            last = Mesh(clusters: [.. Enumerable.Range(0, i + 2).Where(n => n % 5 != i % 5).Select(n => ($"c{n}", 9000 + (n * i)))]);
            server.Publish(last);
        }
        var subscribed = Enumerable.Range(37, 4).Select(n => $"c{n}").ToHashSet(); // c37..c40 remain after the unsubscribes
        var expected = last.Get(TypeUrls.Endpoint).Resources.Values.Where(r => subscribed.Contains(r.Name)).ToDictionary(r => r.Name, r => r.Version);
        string Describe(IReadOnlyDictionary<string, string> d) => string.Join(", ", d.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}@{e.Value}"));
        try
        {
            await TestTimeouts.Eventually(() =>
            {
                lock (held)
                {
                    return Task.FromResult(expected.Count == held.Count && expected.All(e => held.GetValueOrDefault(e.Key) == e.Value));
                }
            }, "the client holds exactly the final snapshot's endpoints for the names it is subscribed to", TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            lock (held)
            {
                Assert.Fail($"expected [{Describe(expected)}] but the client holds [{Describe(held)}]; reader {(reader.IsFaulted ? reader.Exception!.ToString() : "alive")}");
            }
        }
        Assert.False(reader.IsFaulted, reader.Exception?.ToString());
    }

    [Fact]
    public async Task StatusReads_WhileClientsComeAndGo_NeverFail()
    {
        await using var server = await RunningServer.StartAsync();
        server.Publish(Mesh());
        // A fixed amount of churn, not a time window: 4 workers, 40 clients each, every one connecting,
        // ACKing, publishing and leaving; status is read over and over until the last has left.
        var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var churn = Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            await firstRead.Task;
            for (var i = 0; i < 40; i++)
            {
                await using var client = server.Sotw($"churn-{worker}-{i}");
                await client.RequestAsync(TypeUrls.Cluster);
                await client.AckAsync(await client.ReceiveAsync(TypeUrls.Cluster));
                server.Publish(Mesh(clusters: [("c1", 9000 + (i % 7))]));
            }
        })));
        var csds = new Csds.ClientStatusDiscoveryServiceClient(server.Channel());
        var reads = 0;
        do
        {
            await server.GetJsonAsync("/admin/xds/clients");
            await csds.FetchClientStatusAsync(new Envoy.Service.Status.V3.ClientStatusRequest()).ResponseAsync.WithTimeout("CSDS");
            reads++;
            firstRead.TrySetResult();
        }
        while (!churn.IsCompleted);
        await churn.WithTimeout("the churning clients to finish", TimeSpan.FromSeconds(60));
        Assert.True(reads > 1, $"only {reads} status reads happened");
    }
}
