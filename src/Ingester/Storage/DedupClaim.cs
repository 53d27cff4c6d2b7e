namespace ZenMesh.Ingester.Storage;

/// <summary>
/// A new event's dedup key, committed with its event: the key, the event's UUID (its id, see
/// <see cref="EventIds"/>), and the day table and row the event is in (which is what says how far a
/// day's keys are written). Nothing in it is allocated per event (the day is the partition's own
/// string): tens of thousands wait in memory for seconds, and objects that live that long are what
/// a generational collector pays most for.
/// </summary>
public readonly record struct DedupClaim(UInt128 Key, Guid Uuid, string Day, long Row);
