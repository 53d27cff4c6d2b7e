namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The leases of an embedded store, in memory: with one ingester on its own files there is nobody to
/// share them with, and a restart ends them all, which only means the jobs are handed out again
/// (at-least-once, same ids). A cursor per subscription filter walks the store's jobs in order; a
/// lease that runs out, or is given back, puts its job on the redo list, which is served before any
/// cursor moves on. The store says how to page its jobs and read one, and holds <see cref="Gate"/>
/// around every call but <see cref="ReleaseAsync"/> (leasing reads its files, so the lock is async).
/// </summary>
internal sealed class LeaseBook<TKey, TJob>(Func<TJob, TKey> keyOf, Func<TJob, string> flowOf) : IDisposable
    where TKey : struct, IComparable<TKey>
{
    private readonly Dictionary<string, TKey> _cursors = new(StringComparer.Ordinal);
    private readonly Dictionary<TKey, Entry> _leased = [];
    private readonly SortedSet<TKey> _redo = [];
    private readonly Dictionary<string, TKey> _byId = new(StringComparer.Ordinal);

    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>A job handed out and not acknowledged: held until <see cref="Until"/>, or on the redo list (null).</summary>
    private sealed record Entry(TJob Job, string JobId, int HandedOut, DateTimeOffset? Until);

    /// <summary>
    /// Up to <paramref name="max"/> jobs: first those whose lease ran out or was given back, then
    /// new ones from the filter's cursor. <paramref name="read"/> loads a job for its n-th hand-out, or
    /// returns null when its event is gone (retention): such jobs are added to <paramref name="orphans"/>.
    /// </summary>
    public List<LeasedJob> Lease(
        IReadOnlySet<string>? flows, int max, DateTimeOffset now, TimeSpan lease,
        Func<TKey, int, IReadOnlyList<TJob>> nextPage, Func<TJob, int, DateTimeOffset, LeasedJob?> read, List<TJob> orphans)
    {
        var leased = new List<LeasedJob>();
        foreach (var (key, entry) in _leased.Where(l => l.Value.Until <= now).ToList())
        {
            _leased[key] = entry with { Until = null };
            _redo.Add(key);
        }
        foreach (var key in _redo.Where(k => flows is null || flows.Contains(flowOf(_leased[k].Job))).Take(max).ToList())
        {
            _redo.Remove(key);
            var entry = _leased[key];
            Take(entry.Job, entry.HandedOut);
        }
        var filter = flows is null ? "*" : string.Join('\n', flows.Order(StringComparer.Ordinal));
        var cursor = _cursors.GetValueOrDefault(filter);
        while (leased.Count < max)
        {
            var page = nextPage(cursor, Math.Max(64, max - leased.Count));
            if (page.Count == 0)
            {
                break;
            }
            foreach (var job in page)
            {
                if (leased.Count >= max)
                {
                    break;
                }
                cursor = keyOf(job);
                // Another filter's cursor may have handed it out already.
                if (!_leased.ContainsKey(cursor))
                {
                    Take(job, handedOut: 0);
                }
            }
        }
        _cursors[filter] = cursor;
        return leased;

        void Take(TJob job, int handedOut)
        {
            var key = keyOf(job);
            if (read(job, handedOut + 1, now + lease) is not { } loaded)
            {
                if (_leased.Remove(key, out var gone))
                {
                    _byId.Remove(gone.JobId);
                }
                orphans.Add(job);
                return;
            }
            _leased[key] = new Entry(job, loaded.JobId, handedOut + 1, now + lease);
            _byId[loaded.JobId] = key;
            leased.Add(loaded);
        }
    }

    /// <summary>Puts held jobs on the redo list at once (their subscriber went away); unknown ids are ignored.</summary>
    public async Task ReleaseAsync(IEnumerable<string> jobIds, CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var id in jobIds)
            {
                if (_byId.TryGetValue(id, out var key) && _leased[key] is { Until: not null } entry)
                {
                    _leased[key] = entry with { Until = null };
                    _redo.Add(key);
                }
            }
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Forgets jobs for good; returns those that had been handed out (unknown ids are ignored).</summary>
    public List<TJob> Ack(IEnumerable<string> jobIds)
    {
        var acked = new List<TJob>();
        foreach (var id in jobIds)
        {
            if (_byId.Remove(id, out var key) && _leased.Remove(key, out var entry))
            {
                _redo.Remove(key);
                acked.Add(entry.Job);
            }
        }
        return acked;
    }

    /// <summary>Forgets the handed-out jobs whose events retention dropped.</summary>
    public void Forget(Func<TJob, bool> dropped)
    {
        foreach (var (key, entry) in _leased.Where(l => dropped(l.Value.Job)).ToList())
        {
            _leased.Remove(key);
            _redo.Remove(key);
            _byId.Remove(entry.JobId);
        }
    }

    public void Dispose() => Gate.Dispose();
}
