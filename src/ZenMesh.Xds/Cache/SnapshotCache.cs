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
    /// <summary>Watchers by node key: a publish for one node wakes its own, not a scan of every stream's.</summary>
    private readonly ConcurrentDictionary<string, WatcherSet> _watchers = new(StringComparer.Ordinal);

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
        // The default serves every node without a snapshot of its own.
        var specific = _byNode;
        foreach (var (nodeKey, watchers) in _watchers)
        {
            if (!specific.ContainsKey(nodeKey))
            {
                Notify(watchers);
            }
        }
        return SnapshotUpdate.Ok(snapshot.Version);
    }

    public SnapshotUpdate Publish(string nodeKey, Snapshot snapshot, bool alreadyChecked = false)
    {
        var errors = alreadyChecked ? Remember(snapshot) : Check(snapshot);
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
        Notify(nodeKey);
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
        Notify(nodeKey);
    }

    public IReadOnlyList<string> Check(Snapshot snapshot)
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
        while (!_watchers.GetOrAdd(nodeKey, _ => new WatcherSet()).TryAdd(watcher))
        {
            // That set was just retired (its last watcher left): the next GetOrAdd makes a new one.
        }
        return watcher;
    }

    private void Notify(string nodeKey)
    {
        if (_watchers.TryGetValue(nodeKey, out var watchers))
        {
            Notify(watchers);
        }
    }

    private static void Notify(WatcherSet watchers)
    {
        foreach (var watcher in watchers.Snapshot())
        {
            watcher.Changed();
        }
    }

    private void Remove(Watcher watcher)
    {
        if (_watchers.TryGetValue(watcher.NodeKey, out var watchers) && watchers.RemoveAndRetireIfEmpty(watcher))
        {
            // Gone with its last watcher, so node keys that come and go (or a client inventing them) leave nothing behind.
            _watchers.TryRemove(KeyValuePair.Create(watcher.NodeKey, watchers));
        }
    }

    /// <summary>One node key's watchers; once retired (emptied and about to leave the map) it takes no more.</summary>
    private sealed class WatcherSet
    {
        private readonly Lock _gate = new();
        private readonly HashSet<Watcher> _watchers = [];
        private bool _retired;

        public bool TryAdd(Watcher watcher)
        {
            lock (_gate)
            {
                if (_retired)
                {
                    return false;
                }
                _watchers.Add(watcher);
                return true;
            }
        }

        public bool RemoveAndRetireIfEmpty(Watcher watcher)
        {
            lock (_gate)
            {
                _watchers.Remove(watcher);
                _retired = _watchers.Count == 0;
                return _retired;
            }
        }

        public Watcher[] Snapshot()
        {
            lock (_gate)
            {
                return [.. _watchers];
            }
        }
    }

    private sealed class Watcher(SnapshotCache owner, string nodeKey, Action changed) : IDisposable
    {
        public string NodeKey { get; } = nodeKey;
        public Action Changed { get; } = changed;
        public void Dispose() => owner.Remove(this);
    }
}
