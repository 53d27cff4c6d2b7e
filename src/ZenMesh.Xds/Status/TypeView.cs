using System.Collections.Immutable;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.Status;

/// <summary>One resource type on one stream, as last published by that stream's loop. Immutable.</summary>
/// <remarks><see cref="Held"/> is an immutable collection: safe to enumerate from any thread.</remarks>
public sealed record TypeView(
    string TypeUrl,
    bool Wildcard,
    ImmutableArray<string> Names,
    string? LastSentVersion,
    DateTimeOffset? LastSentAt,
    string? AckedVersion,
    NackRecord? LastNack,
    IEnumerable<XdsResource> Held,
    string DesiredVersion)
{
    public SyncState State =>
        LastNack is not null && LastNack.Version == LastSentVersion ? SyncState.Nacked
        : LastSentVersion is null ? SyncState.NotSent
        : AckedVersion == DesiredVersion && LastSentVersion == DesiredVersion ? SyncState.Synced
        : SyncState.Stale;
}
