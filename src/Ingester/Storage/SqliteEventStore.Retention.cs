using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Retention drops a whole day's table once its newest possible event is older than the retention:
/// one DROP TABLE, never a row-by-row delete of payloads. Jobs still open in it go with it (their
/// payload is gone). A day's dedup keys go the same way from the key file, once the day is older
/// than the dedup window.
/// </summary>
public sealed partial class SqliteEventStore
{
    /// <summary>
    /// Every key queued so far is in the key file before any row goes: a day's rows may be dropped
    /// while its keys are still inside the dedup window (a retention shorter than the window), and
    /// after that nothing could read them back.
    /// </summary>
    protected override Task BeforeExpireAsync(CancellationToken cancellationToken) => _keys.WrittenAsync().WaitAsync(cancellationToken);

    protected override async Task<RetentionResult> OnExpiredAsync(RetentionResult result, CancellationToken cancellationToken)
    {
        result = result with { ForgottenKeys = await _keys.ForgetAsync(Time.GetUtcNow() - Options.DedupWindow).WaitAsync(cancellationToken).ConfigureAwait(false) };
        if (result.DroppedPartitions.Count == 0)
        {
            return result;
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
        return result;
    }

    /// <summary>Runs inside the writer's transaction.</summary>
    private RetentionResult ExpireIn(SqliteTransaction transaction, IEnumerable<string> partitions, DateTimeOffset now)
    {
        var cutoff = now - Options.Retention;
        var dropped = partitions.Where(p => EventIds.EndOf(p) <= cutoff).ToList();
        long jobs = 0;
        foreach (var partition in dropped)
        {
            jobs += _statements!.Connection.Command("DELETE FROM jobs WHERE partition = @partition", transaction).With("@partition", partition).ExecuteNonQuery();
            _statements.Connection.Command($"DROP TABLE IF EXISTS {Table(partition)}", transaction).ExecuteNonQuery();
            _statements.Forget(partition);
        }
        return new RetentionResult(dropped, jobs, ForgottenKeys: 0);
    }
}
