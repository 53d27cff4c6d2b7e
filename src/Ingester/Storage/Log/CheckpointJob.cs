namespace ZenMesh.Ingester.Storage.Log;

/// <summary>A job a checkpoint says is open: where its event's record is, and which of its flows.</summary>
internal readonly record struct CheckpointJob(JobKey Key, int Length);
