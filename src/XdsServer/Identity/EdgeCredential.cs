namespace ZenMesh.XdsServer.Identity;

/// <summary>One certificate issued to an edge, as recorded: whether it still counts, and why not.</summary>
public sealed record EdgeCredential(string Serial, string NodeId, DateTimeOffset IssuedAt, DateTimeOffset NotAfter, DateTimeOffset? RevokedAt, string? RevokedReason);

/// <summary>What an enrollment token was issued for, once redeemed.</summary>
public sealed record RedeemedEnrollment(string Tenant, string Edge)
{
    public string NodeId => $"{Tenant}/{Edge}";
}
