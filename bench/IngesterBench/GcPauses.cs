using System.Diagnostics.Tracing;

/// <summary>
/// Each time the runtime suspended every managed thread (for a GC), from the suspension's start to the
/// restart's end, as the runtime's own events time it: GC.GetTotalPauseDuration gives the sum, and a
/// p99 is made by the long ones, not the sum.
/// </summary>
internal sealed class GcPauses : EventListener
{
    private readonly Lock _gate = new();
    private readonly List<(TimeSpan Length, string Kind)> _pauses = [];
    private DateTime? _suspended;
    private string _kind = "";
    private readonly List<string> _gen2 = [];

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Informational, (EventKeywords)0x1); // GC keyword, without the verbose allocation ticks
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        switch (e.EventName)
        {
            case { } name when name.StartsWith("GCSuspendEEBegin", StringComparison.Ordinal):
                _suspended = e.TimeStamp;
                // Reason 1 is a GC, 6 the preparation for one (a background GC's own suspensions); others (0) include tiered compilation's.
                _kind = e.Payload is { } suspend && e.PayloadNames!.IndexOf("Reason") is var r and >= 0 ? $"suspension reason {suspend[r]}" : "suspension";
                break;
            case { } name when name.StartsWith("GCStart", StringComparison.Ordinal) && _suspended is not null && e.Payload is { } payload:
                // Depth is the generation collected; Type 1 is a background gen2 (its pauses are only its start and end).
                var depth = payload[e.PayloadNames!.IndexOf("Depth")];
                var type = Convert.ToInt32(payload[e.PayloadNames.IndexOf("Type")], System.Globalization.CultureInfo.InvariantCulture);
                // Reason: 0 small-object allocations, 4 a large object's, 6 out of large-object space (the runtime's GC reasons).
                var reason = payload[e.PayloadNames.IndexOf("Reason")];
                _kind = $"gen{depth}{(type == 1 ? " background" : "")} (reason {reason})";
                if (Convert.ToInt32(depth, System.Globalization.CultureInfo.InvariantCulture) == 2)
                {
                    lock (_gate)
                    {
                        _gen2.Add($"reason {reason}");
                    }
                }
                break;
            case { } name when name.StartsWith("GCRestartEEEnd", StringComparison.Ordinal) && _suspended is { } since:
                lock (_gate)
                {
                    _pauses.Add((e.TimeStamp - since, _kind));
                }
                _suspended = null;
                break;
        }
    }

    /// <summary>Why each gen2 so far was started; a caller compares two snapshots' counts to take one run's.</summary>
    public string[] Gen2Reasons()
    {
        lock (_gate)
        {
            return [.. _gen2];
        }
    }

    /// <summary>The pauses so far; a caller compares two snapshots' counts to take one run's.</summary>
    public (TimeSpan Length, string Kind)[] Snapshot()
    {
        lock (_gate)
        {
            return [.. _pauses];
        }
    }
}
