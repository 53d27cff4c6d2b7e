namespace ZenMesh.Ingester.Storage.Log;

/// <summary>An event as its log record holds it; headers and body only when they were asked for.</summary>
internal sealed record LoggedEvent(
    Guid Uuid,
    DateTimeOffset ReceivedAt,
    string Tenant,
    string Endpoint,
    string DedupKey,
    string? EventType,
    string[] Flows,
    byte[]? HeadersJson,
    byte[]? Body);
