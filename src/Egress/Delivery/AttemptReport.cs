using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Delivery;

/// <summary>What one attempt found out: the log entry, and when the target asked to be called again (Retry-After), if it did.</summary>
public sealed record AttemptReport(Attempt Attempt, TimeSpan? RetryAfter = null);
