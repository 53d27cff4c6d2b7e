namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// A delivery job not yet acknowledged: where its event's record is (to read it when leased) and
/// which flow it is for. Nothing of the payload is held in memory.
/// </summary>
internal sealed class OpenJob(JobKey key, Segment segment, int length, string flow)
{
    public JobKey Key { get; } = key;

    public Segment Segment { get; } = segment;

    /// <summary>The length of the event's record.</summary>
    public int Length { get; } = length;

    public string Flow { get; } = flow;

    /// <summary>Its acknowledgement is in the log, or retention dropped it: skipped, and removed at the next compaction.</summary>
    public bool Done { get; set; }

    /// <summary>Acknowledged, its record not yet written: never leased again, but still open as far as the log (and a checkpoint) goes.</summary>
    public bool Acked { get; private set; }

    /// <summary>Marks it acknowledged; false if it was acknowledged or done already.</summary>
    public bool TryAck()
    {
        if (Done || Acked)
        {
            return false;
        }
        Acked = true;
        return true;
    }

}
