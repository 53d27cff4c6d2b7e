using System.Globalization;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// What opening the event log found: whether a checkpoint spared reading the log before its position,
/// how many segments and records were read after all, the open jobs and how long it took.
/// </summary>
public sealed record RecoveryReport(bool FromCheckpoint, int Segments, int SegmentsRead, long RecordsRead, long OpenJobs, TimeSpan Took)
{
    public override string ToString() => !FromCheckpoint && Segments == 0
        ? "a new log"
        : string.Create(CultureInfo.InvariantCulture,
            $"{(FromCheckpoint ? "from its checkpoint" : "without a checkpoint")}, {SegmentsRead} of {Segments} segments read ({RecordsRead} records), {OpenJobs} open jobs, in {Took.TotalMilliseconds:F0} ms");
}
