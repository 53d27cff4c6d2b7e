namespace ZenMesh.LocalStack;

/// <summary>
/// The lifetime of a part hosted inside the local stack: it does not listen for Ctrl-C or SIGTERM
/// itself. Every host's own console lifetime would, and each would then stop on its own, in no
/// order, while the others still use it; the stack stops them instead, in reverse start order.
/// </summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
