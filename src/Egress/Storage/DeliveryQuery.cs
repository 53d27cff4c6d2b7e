using System.Text.Json.Serialization;

namespace ZenMesh.Egress.Storage;

/// <summary>
/// A selection of deliveries, for the delivery log and for replay: any combination of tenant, flow,
/// the flows of one target, state, whose fault the last failure was, event, replay and a time range
/// over when the event was received. <see cref="AfterSeq"/> pages.
/// </summary>
public sealed record DeliveryQuery
{
    public string? Tenant { get; init; }
    public string? Flow { get; init; }

    /// <summary>Only these flows ("{tenant}/{flow}"): how a target's deliveries are selected, since a target is reached through its flows.</summary>
    public IReadOnlyList<string>? Flows { get; init; }
    public string? State { get; init; }

    /// <summary><see cref="Faults.Target"/> or <see cref="Faults.ZenMesh"/>: whose fault the delivery's last failure was.</summary>
    public string? Fault { get; init; }
    public string? EventId { get; init; }

    /// <summary>Deliveries (re)queued by this replay.</summary>
    public string? Replay { get; init; }
    public DateTimeOffset? Since { get; init; }
    public DateTimeOffset? Until { get; init; }
    public long AfterSeq { get; init; }
    public int Limit { get; init; } = 100;

    /// <summary>True when nothing narrows the selection (every delivery matches).</summary>
    [JsonIgnore]
    public bool SelectsEverything => Tenant is null && Flow is null && Flows is null && State is null && Fault is null && EventId is null && Replay is null && Since is null && Until is null;
}
