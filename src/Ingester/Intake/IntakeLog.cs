namespace ZenMesh.Ingester.Intake;

/// <summary>What the intake says per webhook, at Debug (one line per event is for tracing a problem, not for every day).</summary>
public sealed partial class IntakeLog(ILogger<IntakeLog> logger)
{
    public void Stored(string eventId, string tenant, string endpoint, IReadOnlyList<string> flows, bool duplicate)
    {
        if (duplicate)
        {
            Duplicate(logger, eventId, tenant, endpoint);
        }
        else
        {
            Accepted(logger, eventId, tenant, endpoint, flows);
        }
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Debug, Message = "event {event_id} accepted at {tenant}/{endpoint} for flows {flows}")]
    private static partial void Accepted(ILogger logger, string event_id, string tenant, string endpoint, IReadOnlyList<string> flows);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Debug, Message = "event {event_id} at {tenant}/{endpoint} is a duplicate; answered Idempotent-Replay")]
    private static partial void Duplicate(ILogger logger, string event_id, string tenant, string endpoint);
}
