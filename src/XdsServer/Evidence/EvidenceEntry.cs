namespace ZenMesh.XdsServer.Evidence;

/// <summary>
/// One fact in the ledger. Kind is "change" (desired state), "ack" or "nack" (an Envoy's answer).
/// At is the ISO 8601 time exactly as hashed. Actor is who did it (an API token id, or a node id); Subject what it was about; Detail the rest, as JSON.
/// </summary>
public sealed record EvidenceEntry(long Seq, string At, string Tenant, string Kind, string Actor, string Subject, string Detail, string PreviousHash, string Hash);
