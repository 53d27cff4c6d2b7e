namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Retention deletes a whole segment file once the day of the newest thing in it is older than the
/// retention: one unlink, never a row-by-row delete. Jobs still open in it go with it (their payload
/// is gone). A segment of acknowledgements only goes by the same rule: the jobs it ends are older.
/// </summary>
public sealed partial class LogEventStore
{
    /// <summary>Runs on the writer, after the batch it came in with is on disk.</summary>
    private RetentionResult ExpireNow(DateTimeOffset now)
    {
        var cutoff = now - Options.Retention;
        List<Segment> dropped;
        lock (_gate)
        {
            dropped = [.. _segments.Values.Where(s => s.Latest != DateTimeOffset.MinValue && EventIds.EndOf(EventIds.PartitionOf(s.Latest)) <= cutoff)];
        }
        if (dropped.Count == 0)
        {
            return new RetentionResult([], 0, _dedup.Purge());
        }
        // A segment whose claims are only in memory is the source they are rebuilt from after a crash: write them out first.
        if (dropped.Exists(s => _dedup.Unflushed(s.Name)))
        {
            _dedup.FlushNow();
        }
        long jobs;
        lock (_gate)
        {
            var gone = dropped.Select(s => s.Seq).ToHashSet();
            jobs = _jobs.EndWhere(key => gone.Contains(key.Segment));
            foreach (var segment in dropped)
            {
                segment.Dropped = true;
                _segments.Remove(segment.Seq);
                if (_current == segment)
                {
                    _current = null;
                }
            }
        }
        foreach (var segment in dropped)
        {
            segment.Dispose();
            File.Delete(segment.Path);
        }
        AddOpenJobs(-jobs);
        var days = dropped.Where(s => s.HasEvents).Select(s => EventIds.PartitionOf(s.Newest)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return new RetentionResult(days, jobs, _dedup.Purge());
    }

    protected override async Task OnExpiredAsync(RetentionResult result, CancellationToken cancellationToken)
    {
        await _leases.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                _leases.Forget(job => !_segments.ContainsKey(job.Key.Segment));
            }
        }
        finally
        {
            _leases.Gate.Release();
        }
    }
}
