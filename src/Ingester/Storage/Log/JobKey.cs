namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Where a delivery job lives in the log: the segment and offset of its event's record, and which of
/// the event's flows it is. Ordered as the log is, so it doubles as a lease cursor; stable across
/// restarts, so an acknowledgement record can name it.
/// </summary>
internal readonly record struct JobKey(long Segment, int Offset, int Flow) : IComparable<JobKey>
{
    public int CompareTo(JobKey other) =>
        Segment != other.Segment ? Segment.CompareTo(other.Segment)
        : Offset != other.Offset ? Offset.CompareTo(other.Offset)
        : Flow.CompareTo(other.Flow);

    public static bool operator <(JobKey left, JobKey right) => left.CompareTo(right) < 0;

    public static bool operator >(JobKey left, JobKey right) => left.CompareTo(right) > 0;

    public static bool operator <=(JobKey left, JobKey right) => left.CompareTo(right) <= 0;

    public static bool operator >=(JobKey left, JobKey right) => left.CompareTo(right) >= 0;
}
