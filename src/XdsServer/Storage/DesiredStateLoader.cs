namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// Makes the host load stored desired state (and publish it to the edges) as it starts, before
/// any client connects; a store that cannot be loaded stops the start with its reasons.
/// </summary>
internal sealed class DesiredStateLoader(DesiredStateStore store) : IHostedService
{
    // Constructing the store (injected above) is what loads and publishes; nothing else to do.
    public DesiredStateStore Store { get; } = store;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
