namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// Makes the host load stored desired state (and publish it to the edges) as it starts, before
/// any client connects; a store that cannot be loaded stops the start with its reasons.
/// A deleted edge loses its credentials (and open streams) at once, whichever replica deleted it.
/// </summary>
internal sealed class DesiredStateLoader(DesiredStateStore store, Identity.EdgeCredentialStore credentials, TimeProvider time) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Constructing the store (injected above) is what loads and publishes.
        store.EdgeRemoved += node => credentials.RevokeEdge(node, "edge deleted", time.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
