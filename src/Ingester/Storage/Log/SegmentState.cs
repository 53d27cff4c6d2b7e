namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// What a checkpoint keeps of a segment: where its records end, its day and times, and its events per
/// endpoint. With it a restart knows the segment without reading it.
/// </summary>
internal sealed record SegmentState(
    long Seq, int End, string? Day, DateTimeOffset Oldest, DateTimeOffset Newest, DateTimeOffset Latest,
    IReadOnlyList<(string Tenant, string Endpoint, long Events)> Counts);
