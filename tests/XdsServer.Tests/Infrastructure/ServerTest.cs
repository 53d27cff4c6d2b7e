using ZenMesh.Xds.Cache;
using static ZenMesh.XdsServer.Tests.Infrastructure.TestResources;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A test class with its own running server, serving <see cref="Initial"/> to every node.</summary>
public abstract class ServerTest : IAsyncLifetime
{
    private protected RunningServer Server { get; private set; } = null!;

    /// <summary>Listener "app" -> route "app-routes" -> clusters c1 and c2 with their endpoints.</summary>
    protected virtual Snapshot Initial => Mesh(clusters: [("c1", 9001), ("c2", 9002)]);

    public async Task InitializeAsync()
    {
        Server = await RunningServer.StartAsync();
        Server.Publish(Initial);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
