namespace ZenMesh.Ingester.Storage;

/// <summary>
/// One delivery job handed to an egress: its stable id ("{event id}/{flow}", the same on every
/// hand-out, so a receiver can deduplicate), the event it carries, and until when the lease holds.
/// </summary>
public sealed record LeasedJob(
    string JobId,
    string EventId,
    string Flow,
    string Tenant,
    string Endpoint,
    string? EventType,
    DateTimeOffset ReceivedAt,
    string HeadersJson,
    byte[] Body,
    int HandedOut,
    DateTimeOffset LeaseExpiresAt)
{
    public static string IdOf(string eventId, string flow) => $"{eventId}/{flow}";
}
