using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.LastKnownGood;

/// <summary>One accepted snapshot as stored: its place in the sequence, when it arrived, and its file.</summary>
public sealed record Generation(long Sequence, Snapshot Snapshot, DateTimeOffset ReceivedAt, string File);
