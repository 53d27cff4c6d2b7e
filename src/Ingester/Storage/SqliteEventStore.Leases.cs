using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Leases live in memory: with one ingester on its own file there is nobody to share them with, and a
/// restart ends them all, which only means the jobs are handed out again (at-least-once, same ids).
/// A cursor per subscription filter walks the jobs table in seq order; a lease that runs out puts
/// its job on the redo list, which is served before the cursor moves on.
/// </summary>
public sealed partial class SqliteEventStore
{
    private readonly SemaphoreSlim _leaseLock = new(1, 1);
    private readonly Dictionary<string, long> _cursors = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Held> _held = [];
    private readonly SortedDictionary<long, JobRef> _redo = [];
    private readonly Dictionary<string, long> _seqOf = new(StringComparer.Ordinal);
    private SqliteConnection? _reader;

    private sealed record JobRef(long Seq, string EventId, string Flow, string Partition, int HandedOut)
    {
        public string JobId => LeasedJob.IdOf(EventId, Flow);
    }

    private sealed record Held(JobRef Job, DateTimeOffset Until);

    public override async Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        var leased = new List<LeasedJob>();
        if (max <= 0 || flows is { Count: 0 })
        {
            return leased;
        }
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _reader ??= Open();
            var now = Time.GetUtcNow();
            foreach (var (seq, held) in _held.Where(h => h.Value.Until <= now).ToList())
            {
                _held.Remove(seq);
                _redo[seq] = held.Job;
            }
            var orphans = new List<long>();
            foreach (var job in _redo.Values.Where(j => flows is null || flows.Contains(j.Flow)).Take(max).ToList())
            {
                _redo.Remove(job.Seq);
                Take(job, now + lease, leased, orphans);
            }
            var filter = flows is null ? "*" : string.Join('\n', flows.Order(StringComparer.Ordinal));
            var cursor = _cursors.GetValueOrDefault(filter);
            while (leased.Count < max)
            {
                var page = NextJobs(flows, cursor, Math.Max(64, max - leased.Count));
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
                    cursor = job.Seq;
                    // Another filter's cursor may have handed it out already.
                    if (!_held.ContainsKey(job.Seq) && !_redo.ContainsKey(job.Seq))
                    {
                        Take(job, now + lease, leased, orphans);
                    }
                }
            }
            _cursors[filter] = cursor;
            if (orphans.Count > 0)
            {
                // Their event's partition was dropped by retention: nothing left to deliver.
                _ = Enqueue(new AckJobs([.. orphans.Cast<object>()], new TaskCompletionSource()), Task.CompletedTask);
            }
        }
        finally
        {
            _leaseLock.Release();
        }
        return leased;
    }

    private void Take(JobRef job, DateTimeOffset until, List<LeasedJob> leased, List<long> orphans)
    {
        if (ReadEvent(job, until) is not { } loaded)
        {
            orphans.Add(job.Seq);
            _seqOf.Remove(job.JobId);
            return;
        }
        var handed = job with { HandedOut = job.HandedOut + 1 };
        _held[job.Seq] = new Held(handed, until);
        _seqOf[job.JobId] = job.Seq;
        leased.Add(loaded with { HandedOut = handed.HandedOut });
    }

    private List<JobRef> NextJobs(IReadOnlySet<string>? flows, long after, int limit)
    {
        var sql = new StringBuilder("SELECT seq, event_id, flow, partition FROM jobs WHERE seq > @after");
        using var command = _reader!.CreateCommand();
        if (flows is not null)
        {
            sql.Append(" AND flow IN (");
            var i = 0;
            foreach (var flow in flows)
            {
                sql.Append(i == 0 ? "" : ", ").Append("@f").Append(i);
                command.Parameters.AddWithValue("@f" + i++, flow);
            }
            sql.Append(')');
        }
        command.CommandText = sql.Append(" ORDER BY seq LIMIT @limit").ToString();
        command.Parameters.AddWithValue("@after", after);
        command.Parameters.AddWithValue("@limit", limit);
        using var reader = command.ExecuteReader();
        var jobs = new List<JobRef>();
        while (reader.Read())
        {
            jobs.Add(new JobRef(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), HandedOut: 0));
        }
        return jobs;
    }

    private LeasedJob? ReadEvent(JobRef job, DateTimeOffset until)
    {
        if (!_partitions.Contains(job.Partition))
        {
            return null;
        }
        using var command = _reader!.CreateCommand();
        command.CommandText = $"SELECT tenant, endpoint, event_type, received_at, headers, body FROM {Table(job.Partition)} WHERE id = @id";
        command.Parameters.AddWithValue("@id", job.EventId);
        try
        {
            using var reader = command.ExecuteReader();
            if (!reader.Read())
            {
                return null;
            }
            return new LeasedJob(job.JobId, job.EventId, job.Flow, reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture), reader.GetString(4), (byte[])reader[5], job.HandedOut, until);
        }
        catch (SqliteException) when (!_partitions.Contains(job.Partition))
        {
            // Dropped between the check and the read.
            return null;
        }
    }

    public override async Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var id in jobIds)
            {
                if (_seqOf.TryGetValue(id, out var seq) && _held.Remove(seq, out var held))
                {
                    _redo[seq] = held.Job;
                }
            }
        }
        finally
        {
            _leaseLock.Release();
        }
        JobsReady.Notify();
    }

    public override async Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        var seqs = new List<long>(jobIds.Count);
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var id in jobIds)
            {
                if (_seqOf.Remove(id, out var seq))
                {
                    _held.Remove(seq);
                    _redo.Remove(seq);
                    seqs.Add(seq);
                }
            }
        }
        finally
        {
            _leaseLock.Release();
        }
        if (seqs.Count > 0)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await Enqueue(new AckJobs([.. seqs.Cast<object>()], done), done.Task).ConfigureAwait(false);
        }
        return seqs.Count;
    }
}
