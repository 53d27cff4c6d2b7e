namespace ZenMesh.Ingester.Storage;

/// <summary>
/// A verified webhook about to be stored: where it came in, its deduplication key, its headers (a
/// JSON object of name to value, UTF-8, as stored), its bytes, and the flows it feeds (one delivery
/// job each).
/// </summary>
public sealed record IncomingEvent(string Tenant, string Endpoint, string DedupKey, string? EventType, DateTimeOffset ReceivedAt, byte[] HeadersJson, byte[] Body, IReadOnlyList<string> Flows);

/// <summary>The stored event's id, and whether this was a redelivery of one already stored.</summary>
public sealed record StoredEvent(string Id, bool Duplicate);
