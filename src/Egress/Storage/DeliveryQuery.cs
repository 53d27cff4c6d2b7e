namespace ZenMesh.Egress.Storage;

/// <summary>
/// A selection of deliveries, for the delivery log and for replay: any combination of tenant, flow,
/// state, event and a time range over when the event was received. <see cref="AfterSeq"/> pages.
/// </summary>
public sealed record DeliveryQuery
{
    public string? Tenant { get; init; }
    public string? Flow { get; init; }
    public string? State { get; init; }
    public string? EventId { get; init; }
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
    public long AfterSeq { get; init; }
    public int Limit { get; init; } = 100;
}
