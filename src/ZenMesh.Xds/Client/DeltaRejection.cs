namespace ZenMesh.Xds.Client;

/// <summary>Config of a type that someone downstream could not take: sent upstream as a NACK of that type, with the reason.</summary>
public sealed record DeltaRejection(string TypeUrl, string Reason);
