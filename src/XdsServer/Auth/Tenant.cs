namespace ZenMesh.XdsServer.Auth;

/// <summary>A tenant the operator created, and when ("default" has always existed).</summary>
public sealed record Tenant(string Name, DateTimeOffset CreatedAt);
