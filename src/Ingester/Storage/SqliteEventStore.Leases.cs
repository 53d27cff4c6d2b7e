using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Leases, in a <see cref="LeaseBook{TKey, TJob}"/>: its cursors walk the jobs table in seq order.
/// </summary>
public sealed partial class SqliteEventStore
{
    private readonly LeaseBook<long, JobRef> _leases = new(j => j.Seq, j => j.Flow);
    private SqliteConnection? _reader;

    private sealed record JobRef(long Seq, string EventId, string Flow, string Partition)
    {
        public string JobId => LeasedJob.IdOf(EventId, Flow);
    }

    public override async Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (max <= 0 || flows is { Count: 0 })
        {
            return [];
        }
        await _leases.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _reader ??= Open();
            var orphans = new List<JobRef>();
            var leased = _leases.Lease(flows, max, Time.GetUtcNow(), lease, (after, limit) => NextJobs(flows, after, limit), ReadEvent, orphans);
            if (orphans.Count > 0)
            {
                // Their event's partition was dropped by retention: nothing left to deliver.
                var ack = new AckJobs([.. orphans.Select(o => o.Seq)]);
                _ = Enqueue(ack, ack.Done.Task);
            }
            return leased;
        }
        finally
        {
            _leases.Gate.Release();
        }
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
            jobs.Add(new JobRef(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }
        return jobs;
    }

    private LeasedJob? ReadEvent(JobRef job, int handedOut, DateTimeOffset until)
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
                DateTimeOffset.Parse(reader.GetString(3), CultureInfo.InvariantCulture), reader.GetString(4), (byte[])reader[5], handedOut, until);
        }
        catch (SqliteException) when (!_partitions.Contains(job.Partition))
        {
            // Dropped between the check and the read.
            return null;
        }
    }

    public override async Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        await _leases.ReleaseAsync(jobIds, cancellationToken).ConfigureAwait(false);
        JobsReady.Notify();
    }

    public override async Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken)
    {
        List<JobRef> acked;
        await _leases.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            acked = _leases.Ack(jobIds);
        }
        finally
        {
            _leases.Gate.Release();
        }
        if (acked.Count > 0)
        {
            var ack = new AckJobs([.. acked.Select(j => j.Seq)]);
            await Enqueue(ack, ack.Done.Task).ConfigureAwait(false);
        }
        return acked.Count;
    }
}
