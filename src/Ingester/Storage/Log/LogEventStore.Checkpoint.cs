namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Checkpoints bound a restart: one is taken on the writer, between two batches (so it matches the
/// log exactly), once a segment's worth of records, and four times what the last checkpoint took,
/// have gone into the log since the last (so a backlog of a million open jobs costs a quarter more
/// writing at most, not a 20 MB file per segment), and once more at shutdown. Taking it copies
/// nothing but each flow's array of jobs and its length (see <see cref="OpenJobs"/>); the jobs are
/// read and written on a thread of its own, so a big backlog never holds up a commit: copying a
/// million of them on the writer had made commits of over 25 ms.
/// </summary>
public sealed partial class LogEventStore
{
    /// <summary>The checkpoint's file in <see cref="Location"/>: without it, the next start reads the whole log.</summary>
    public const string CheckpointFileName = Checkpoint.FileName;

    private Task _checkpointing = Task.CompletedTask;
    private long _logged;
    private long _loggedAtCheckpoint;
    private long _checkpointBytes;

    /// <summary>What opening the log found, and how long it took.</summary>
    public RecoveryReport Recovered { get; private set; } = null!;

    /// <summary>On the writer, after a batch is published.</summary>
    private void MaybeCheckpoint()
    {
        if (_logged - _loggedAtCheckpoint < Math.Max(Options.LogSegmentBytes, 4 * _checkpointBytes) || !_checkpointing.IsCompleted)
        {
            return;
        }
        var snapshot = TakeCheckpoint();
        _loggedAtCheckpoint = _logged;
        _checkpointBytes = snapshot.Flows.Sum(f => (long)f.Length) * Checkpoint.JobBytes;
        _checkpointing = Task.Factory.StartNew(() => WriteCheckpoint(snapshot), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private (long Seq, int End, List<SegmentState> Segments, List<OpenJobs.FlowSnapshot> Flows) TakeCheckpoint()
    {
        lock (_gate)
        {
            var last = _segments.Count > 0 ? _segments.Values.Last() : null;
            return (last?.Seq ?? 0, last?.End ?? 0, [.. _segments.Values.Select(s => s.State())], _jobs.Open());
        }
    }

    private void WriteCheckpoint((long Seq, int End, List<SegmentState> Segments, List<OpenJobs.FlowSnapshot> Flows) snapshot)
    {
        var started = Time.GetTimestamp();
        try
        {
            var jobs = Checkpoint.Write(_directory, snapshot.Seq, snapshot.End, snapshot.Segments, snapshot.Flows);
            if (Logger.IsEnabled(LogLevel.Debug))
            {
                var ms = (long)Time.GetElapsedTime(started).TotalMilliseconds;
                Log.CheckpointWritten(Logger, snapshot.Seq, snapshot.End, jobs, ms);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The last checkpoint stays; a restart reads a little more of the log. Tried again a segment later.
            Log.CheckpointFailed(Logger, e.Message);
        }
    }

    /// <summary>At shutdown, after the writer's last batch: the next start reads nothing of the log but its dedup tail.</summary>
    private void CheckpointAtShutdown()
    {
        _checkpointing.Wait();
        WriteCheckpoint(TakeCheckpoint());
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3110, Level = LogLevel.Debug, Message = "checkpoint at segment {Seq} offset {End}: {Jobs} open jobs, written in {Ms} ms")]
        public static partial void CheckpointWritten(ILogger logger, long seq, int end, long jobs, long ms);

        [LoggerMessage(EventId = 3111, Level = LogLevel.Warning, Message = "could not write a checkpoint of the event log: {Reason}; the last one stays, and a restart reads more of the log")]
        public static partial void CheckpointFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 3112, Level = LogLevel.Warning, Message = "not using the event log's checkpoint: {Problem}; reading the whole log instead")]
        public static partial void CheckpointUnreadable(ILogger logger, string problem);

        [LoggerMessage(EventId = 3113, Level = LogLevel.Information, Message = "opened the event log: {Report}")]
        public static partial void Opened(ILogger logger, RecoveryReport report);

        [LoggerMessage(EventId = 3114, Level = LogLevel.Warning, Message = "deleted {Path}: older than the checkpoint and not in it (dropped by retention, or a segment whose first write failed)")]
        public static partial void DeletedUncheckpointed(ILogger logger, string path);
    }
}
