namespace ZenMesh.Egress.Storage;

/// <summary>
/// One job the egress owns: an event to deliver to one flow's target, from the moment it was
/// recorded until it is delivered or dead. <see cref="JobId"/> ("{event id}/{flow}") is also the
/// webhook-id the target sees, the same on every attempt.
/// </summary>
public sealed record Delivery(
    string JobId,
    string EventId,
    string Tenant,
    string Flow,
    string Endpoint,
    string? EventType,
    DateTimeOffset ReceivedAt,
    IReadOnlyDictionary<string, string> Headers,
    byte[] Body,
    string State,
    int Attempts,
    int Failures,
    DateTimeOffset DueAt,
    DateTimeOffset? FirstAttemptAt,
    DateTimeOffset RecordedAt,
    DateTimeOffset? FinishedAt,
    int? LastStatus,
    string? LastOutcome,
    string? LastFault)
{
    /// <summary>A header the event arrived with (as the ingester stored it), by case-insensitive name.</summary>
    public string? Header(string name) => Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;
}

/// <summary>Where a delivery stands.</summary>
public static class DeliveryStates
{
    /// <summary>Waiting for its due time (a first attempt, or a redelivery).</summary>
    public const string Pending = "pending";

    /// <summary>The target answered 2xx.</summary>
    public const string Delivered = "delivered";

    /// <summary>The horizon passed without a 2xx; kept with its attempts until replayed.</summary>
    public const string Dead = "dead";

    public static readonly IReadOnlyList<string> All = [Pending, Delivered, Dead];
}
