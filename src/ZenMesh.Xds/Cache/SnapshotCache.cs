using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace ZenMesh.Xds.Cache;

/// <summary>
/// Snapshots per node key plus a default, swapped whole. Reads are lock-free; a publish checks
/// consistency first and refuses an inconsistent snapshot, so the last good one keeps serving.
/// </summary>
public sealed class SnapshotCache : ISnapshotCache
{
    private readonly object _gate = new();
    private readonly ConcurrentDictionary<Watcher, byte> _watchers = new();

    /// <summary>Versions (content hashes) of resources that passed validation: unchanged resources are not checked again.</summary>
    private readonly ConcurrentDictionary<string, byte> _valid = new(StringComparer.Ordinal);
    private const int ValidMemoLimit = 500_000;
    private volatile Snapshot _default = Snapshot.Empty;
    private volatile ImmutableDictionary<string, Snapshot> _byNode = ImmutableDictionary<string, Snapshot>.Empty.WithComparers(StringComparer.Ordinal);

    public Snapshot Current(string nodeKey) => _byNode.GetValueOrDefault(nodeKey) ?? _default;

    public SnapshotUpdate PublishDefault(Snapshot snapshot, bool alreadyChecked = false)
    {
        var errors = alreadyChecked ? Remember(snapshot) : Check(snapshot);
        if (errors.Count > 0)
        {
            return SnapshotUpdate.Refused(snapshot.Version, errors);
        }
        lock (_gate)
        {
            if (_default.Version == snapshot.Version)
            {
                return SnapshotUpdate.Ok(snapshot.Version);
            }
            _default = snapshot;
        }
        var specific = _byNode;
        Notify(w => !specific.ContainsKey(w.NodeKey));
        return SnapshotUpdate.Ok(snapshot.Version);
    }

    public SnapshotUpdate Publish(string nodeKey, Snapshot snapshot)
    {
        var errors = Check(snapshot);
        if (errors.Count > 0)
        {
            return SnapshotUpdate.Refused(snapshot.Version, errors);
        }
        lock (_gate)
        {
            if (_byNode.TryGetValue(nodeKey, out var current) && current.Version == snapshot.Version)
            {
                return SnapshotUpdate.Ok(snapshot.Version);
            }
            _byNode = _byNode.SetItem(nodeKey, snapshot);
        }
        Notify(w => w.NodeKey == nodeKey);
        return SnapshotUpdate.Ok(snapshot.Version);
    }

    public void Clear(string nodeKey)
    {
        lock (_gate)
        {
            if (!_byNode.ContainsKey(nodeKey))
            {
                return;
            }
            _byNode = _byNode.Remove(nodeKey);
        }
        Notify(w => w.NodeKey == nodeKey);
    }

    private IReadOnlyList<string> Check(Snapshot snapshot)
    {
        var errors = SnapshotConsistency.Check(snapshot, r => _valid.ContainsKey(r.Version));
        return errors.Count == 0 ? Remember(snapshot) : errors;
    }

    private IReadOnlyList<string> Remember(Snapshot snapshot)
    {
        if (_valid.Count > ValidMemoLimit)
        {
            _valid.Clear();
        }
        foreach (var resource in snapshot.Types.Values.SelectMany(t => t.Resources.Values))
        {
            _valid.TryAdd(resource.Version, 0);
        }
        return [];
    }

    public IDisposable Watch(string nodeKey, Action changed)
    {
        var watcher = new Watcher(this, nodeKey, changed);
        _watchers.TryAdd(watcher, 0);
        return watcher;
    }

    private void Notify(Func<Watcher, bool> affected)
    {
        foreach (var watcher in _watchers.Keys)
        {
            if (affected(watcher))
            {
                watcher.Changed();
            }
        }
    }

    private sealed class Watcher(SnapshotCache owner, string nodeKey, Action changed) : IDisposable
    {
        public string NodeKey { get; } = nodeKey;
        public Action Changed { get; } = changed;
        public void Dispose() => owner._watchers.TryRemove(this, out _);
    }
}
