using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;

namespace ZenMesh.Agent.LastKnownGood;

/// <summary>
/// The relay's cache, with the edge's TLS secrets (<see cref="EdgeSecrets"/>) added to each snapshot
/// as it is published. Whoever publishes (the upstream stream, last-known-good, a local verdict)
/// keeps and stores its own snapshot without them.
/// </summary>
internal sealed class EdgeSecretsCache(SnapshotCache inner, IOptions<AgentOptions> options) : ISnapshotCache
{
    private readonly string? _secretsDir = options.Value.SecretsDir;

    public Snapshot Current(string nodeKey) => inner.Current(nodeKey);

    public SnapshotUpdate PublishDefault(Snapshot snapshot, bool alreadyChecked = false) => inner.PublishDefault(EdgeSecrets.With(snapshot, _secretsDir), alreadyChecked);

    public SnapshotUpdate Publish(string nodeKey, Snapshot snapshot) => inner.Publish(nodeKey, EdgeSecrets.With(snapshot, _secretsDir));

    public void Clear(string nodeKey) => inner.Clear(nodeKey);

    public IDisposable Watch(string nodeKey, Action changed) => inner.Watch(nodeKey, changed);
}
