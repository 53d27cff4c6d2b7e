using System.Collections.Immutable;
using Envoy.Config.Core.V3;

namespace ZenMesh.Xds.Status;

/// <summary>A connected client (one stream) as its loop last published it. Immutable; safe to read from any thread.</summary>
public sealed record ClientView(
    long StreamId,
    string Kind,
    Node Node,
    DateTimeOffset ConnectedAt,
    ImmutableDictionary<string, TypeView> Types)
{
    public NackRecord? LastNack => Types.Values.Select(t => t.LastNack).Where(n => n is not null).MaxBy(n => n!.At);
}
