namespace ZenMesh.Ingester.Storage;

/// <summary>What one retention pass dropped: whole partitions (by their day), the jobs still open in them, and expired dedup keys.</summary>
public sealed record RetentionResult(IReadOnlyList<string> DroppedPartitions, long DroppedJobs, long ForgottenKeys);
