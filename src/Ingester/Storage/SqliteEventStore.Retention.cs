using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Retention drops a whole day's table once its newest possible event is older than the retention:
/// one DROP TABLE, never a row-by-row delete of payloads. Jobs still open in it go with it (their
/// payload is gone). Expired dedup keys are small; they are forgotten in bounded chunks.
/// </summary>
public sealed partial class SqliteEventStore
{
    private const int DedupChunk = 10_000;

    protected override async Task OnExpiredAsync(RetentionResult result, CancellationToken cancellationToken)
    {
        if (result.DroppedPartitions.Count == 0)
        {
            return;
        }
        await _leaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var dropped = result.DroppedPartitions.ToHashSet(StringComparer.Ordinal);
            foreach (var job in _held.Values.Select(h => h.Job).Concat(_redo.Values).Where(j => dropped.Contains(j.Partition)).ToList())
            {
                _held.Remove(job.Seq);
                _redo.Remove(job.Seq);
                _seqOf.Remove(job.JobId);
            }
        }
        finally
        {
            _leaseLock.Release();
        }
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
        var keys = _statements!.Connection.Command("DELETE FROM dedup WHERE rowid IN (SELECT rowid FROM dedup WHERE expires_at <= @now LIMIT @chunk)", transaction)
            .With("@now", now.ToString("O", CultureInfo.InvariantCulture)).With("@chunk", DedupChunk).ExecuteNonQuery();
        return new RetentionResult(dropped, jobs, keys);
    }
}
