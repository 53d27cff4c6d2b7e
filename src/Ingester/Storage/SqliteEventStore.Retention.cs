using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Retention drops a whole day's table once its newest possible event is older than the retention:
/// one DROP TABLE, never a row-by-row delete of payloads. Jobs still open in it go with it (their
/// payload is gone). Expired dedup keys go with whole runs, or when runs are merged.
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
    private RetentionResult ExpireIn(SqliteTransaction transaction, IEnumerable<string> partitions, DateTimeOffset now)
    {
        var cutoff = now - Options.Retention;
        var dropped = partitions.Where(p => EventIds.EndOf(p) <= cutoff).ToList();
        long jobs = 0;
        // A day whose claims are only in memory is the source they are rebuilt from after a crash: write them out first.
        if (dropped.Exists(_dedup.Unflushed))
        {
            _dedup.FlushNow();
        }
        foreach (var partition in dropped)
        {
            jobs += _statements!.Connection.Command("DELETE FROM jobs WHERE partition = @partition", transaction).With("@partition", partition).ExecuteNonQuery();
            _statements.Connection.Command($"DROP TABLE IF EXISTS {Table(partition)}", transaction).ExecuteNonQuery();
            _statements.Forget(partition);
        }
        return new RetentionResult(dropped, jobs, _dedup.Purge());
    }
}
