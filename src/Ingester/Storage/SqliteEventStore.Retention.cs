using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Retention drops a whole day's table once its newest possible event is older than the retention:
/// one DROP TABLE, never a row-by-row delete of payloads. Jobs still open in it go with it (their
/// payload is gone). A day's dedup keys go the same way, once the day is older than the dedup window.
/// </summary>
public sealed partial class SqliteEventStore
{
    protected override async Task OnExpiredAsync(RetentionResult result, CancellationToken cancellationToken)
    {
        if (result.DroppedPartitions.Count == 0)
        {
            return;
        }
        await _leases.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var dropped = result.DroppedPartitions.ToHashSet(StringComparer.Ordinal);
            _leases.Forget(job => dropped.Contains(job.Partition));
        }
        finally
        {
            _leases.Gate.Release();
        }
    }

    /// <summary>Runs inside the writer's transaction.</summary>
    private (RetentionResult Result, List<string> DroppedPartitions, List<string> DroppedDedupDays) ExpireIn(SqliteTransaction transaction, IEnumerable<string> partitions, IEnumerable<string> dedupDays, DateTimeOffset now)
    {
        var cutoff = now - Options.Retention;
        var dropped = partitions.Where(p => EventIds.EndOf(p) <= cutoff).ToList();
        var horizon = now - Options.DedupWindow;
        var expiredKeys = dedupDays.Where(d => EventIds.EndOf(d) <= horizon).ToList();
        long jobs = 0;
        long keys = 0;
        foreach (var partition in dropped)
        {
            jobs += _statements!.Connection.Command("DELETE FROM jobs WHERE partition = @partition", transaction).With("@partition", partition).ExecuteNonQuery();
            _statements.Connection.Command($"DROP TABLE IF EXISTS {Table(partition)}", transaction).ExecuteNonQuery();
            _statements.Forget(partition);
        }
        foreach (var day in expiredKeys)
        {
            keys += _statements!.Connection.Command($"SELECT COUNT(*) FROM {DedupTable(day)}", transaction).Scalar<long>();
            _statements.ForgetDedup(day);
            _statements.Connection.Command($"DROP TABLE IF EXISTS {DedupTable(day)}", transaction).ExecuteNonQuery();
        }
        return (new RetentionResult(dropped, jobs, keys), dropped, expiredKeys);
    }
}
