namespace ZenMesh.Ingester.Storage.Dedup;

/// <summary>
/// One remembered claim: the key's hash and the UUID of the event that claimed it (its id is
/// "ev_" and that UUID). The UUID is version 7, so it carries the claim's time, and with it when
/// the claim expires: a shorter or longer window applies to claims already made.
/// </summary>
public readonly record struct DedupEntry(UInt128 Key, Guid Event)
{
    public string EventId => EventIds.Of(Event);

    public bool ExpiredAt(DateTimeOffset now, TimeSpan window) => EventIds.TimeOf(Event) + window <= now;
}
