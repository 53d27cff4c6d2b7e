namespace ZenMesh.Xds.Cache;

/// <summary>
/// What to serve, and when it changed. The protocol side (streams) asks for the current snapshot of
/// a node key and registers a watch to be told when it changes; the cache knows nothing of nonces,
/// versions sent or subscriptions.
/// </summary>
public interface ISnapshotCache
{
    /// <summary>The node-specific snapshot if one is set, else the default snapshot.</summary>
    Snapshot Current(string nodeKey);

    /// <summary>
    /// Publishes the snapshot served to every node that has no snapshot of its own, once it passes
    /// the consistency and validation checks; with <paramref name="alreadyChecked"/> it is not checked
    /// again, because the caller knows these exact bytes passed before (a checksummed stored copy).
    /// </summary>
    SnapshotUpdate PublishDefault(Snapshot snapshot, bool alreadyChecked = false);

    /// <summary>
    /// What makes the snapshot unservable (its consistency and validation problems); none when it
    /// may be published. Free of side effects, so a writer checks before it saves anything.
    /// </summary>
    IReadOnlyList<string> Check(Snapshot snapshot);

    /// <summary>Publishes a node's own snapshot (checked first, unless the caller just did with <see cref="Check"/>).</summary>
    SnapshotUpdate Publish(string nodeKey, Snapshot snapshot, bool alreadyChecked = false);

    /// <summary>Drops a node's own snapshot; the node falls back to the default.</summary>
    void Clear(string nodeKey);

    /// <summary>Calls <paramref name="changed"/> whenever the snapshot served to the key changes. Dispose to stop; disposing twice is safe.</summary>
    IDisposable Watch(string nodeKey, Action changed);
}
