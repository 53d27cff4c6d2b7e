namespace ZenMesh.Egress.Storage;

/// <summary>A flow this egress stopped delivering (its target answered 410 Gone); its jobs wait until it is resumed.</summary>
public sealed record DeliveryHold(string Tenant, string Flow, string Reason, DateTimeOffset At);
