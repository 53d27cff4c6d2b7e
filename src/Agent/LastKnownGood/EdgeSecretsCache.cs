using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;

namespace ZenMesh.Agent.LastKnownGood;

/// <summary>
/// The relay's cache, with the edge's TLS secrets (<see cref="EdgeSecrets"/>) added to each snapshot
/// as it is published. Whoever publishes (the upstream stream, last-known-good, a local verdict)
/// keeps and stores its own snapshot without them. <see cref="Refresh"/> publishes again when the
/// secret files changed (a rotated CA or client certificate), with no change from upstream.
/// </summary>
internal sealed class EdgeSecretsCache(SnapshotCache inner, IOptions<AgentOptions> options) : ISnapshotCache
{
    private readonly string? _secretsDir = options.Value.SecretsDir;
    private readonly object _gate = new();
    private Snapshot? _lastDefault;
    private string? _publishedVersion;

    public Snapshot Current(string nodeKey) => inner.Current(nodeKey);

    public SnapshotUpdate PublishDefault(Snapshot snapshot, bool alreadyChecked = false)
    {
        lock (_gate)
        {
            var withSecrets = EdgeSecrets.With(snapshot, _secretsDir);
            var update = inner.PublishDefault(withSecrets, alreadyChecked);
            if (update.Accepted)
            {
                (_lastDefault, _publishedVersion) = (snapshot, withSecrets.Version);
            }
            return update;
        }
    }

    /// <summary>Publishes the last default snapshot again if the secrets it names read differently now; true when it did.</summary>
    public bool Refresh()
    {
        lock (_gate)
        {
            if (_lastDefault is not { } last)
            {
                return false;
            }
            var withSecrets = EdgeSecrets.With(last, _secretsDir);
            if (withSecrets.Version == _publishedVersion || !inner.PublishDefault(withSecrets, alreadyChecked: true).Accepted)
            {
                return false;
            }
            _publishedVersion = withSecrets.Version;
            return true;
        }
    }

    public IReadOnlyList<string> Check(Snapshot snapshot) => inner.Check(EdgeSecrets.With(snapshot, _secretsDir));

    // Checked again whatever the caller says: the secrets read now may differ from those it checked with.
    public SnapshotUpdate Publish(string nodeKey, Snapshot snapshot, bool alreadyChecked = false) => inner.Publish(nodeKey, EdgeSecrets.With(snapshot, _secretsDir));

    public void Clear(string nodeKey) => inner.Clear(nodeKey);

    public IDisposable Watch(string nodeKey, Action changed) => inner.Watch(nodeKey, changed);
}
