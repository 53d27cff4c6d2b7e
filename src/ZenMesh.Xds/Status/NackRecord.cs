namespace ZenMesh.Xds.Status;

/// <summary>A client rejected config: which type and version, why, and when.</summary>
public sealed record NackRecord(string NodeId, string TypeUrl, string Version, string Nonce, int Code, string Message, DateTimeOffset At);
