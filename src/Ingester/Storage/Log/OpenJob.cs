namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// A delivery job not yet acknowledged, as leases and acknowledgements pass it around: where its
/// event's record is (<see cref="JobKey"/>: the segment by its seq, looked up when the job is read),
/// how long the record is, and which flow it is for. A value: whether it is still open is held by
/// <see cref="OpenJobs"/>, which a job is looked up in by its key.
/// </summary>
internal readonly record struct OpenJob(JobKey Key, int Length, string Flow);
