namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Whether the store's last write (or probe) committed: while it does not, <c>/healthz</c> says so,
/// naming the reason and since when, and the writer probes until a write commits again.
/// </summary>
public sealed record StoreHealth(bool Writable, string? Problem, DateTimeOffset? Since)
{
    public static StoreHealth Ok { get; } = new(true, null, null);
}
