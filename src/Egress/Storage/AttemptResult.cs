namespace ZenMesh.Egress.Storage;

/// <summary>What an attempt leaves behind: the delivery's next state and due time, and whether it counts on the redelivery schedule.</summary>
public sealed record AttemptResult(Attempt Attempt, string State, DateTimeOffset DueAt, bool CountsAsFailure);
