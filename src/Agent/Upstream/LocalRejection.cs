namespace ZenMesh.Agent.Upstream;

/// <summary>A local client rejected config the agent relayed: reported upstream as a NACK of that type.</summary>
public sealed record LocalRejection(string NodeId, string TypeUrl, string Message, DateTimeOffset At);
