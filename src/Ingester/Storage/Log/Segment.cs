using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// One file of the event log, "{seq}.seg", zero-filled to its full size before its first record.
/// Records go in at <see cref="End"/> and are never rewritten. What retention and status need to know
/// of it (the newest event, events per endpoint) is kept here, so neither reads the file.
/// The writer changes it; readers hold the store's lock.
/// </summary>
internal sealed class Segment(long seq, string path, SafeFileHandle handle, long size) : IDisposable
{
    public const string Suffix = ".seg";

    public long Seq { get; } = seq;

    public string Path { get; } = path;

    public SafeFileHandle Handle { get; } = handle;

    public long Size { get; } = size;

    /// <summary>Where the next record goes: the end of the last whole record.</summary>
    public int End { get; set; }

    /// <summary>The UTC day of its first event: a segment holds one day (a few late arrivals aside), so retention drops whole days.</summary>
    public string? Day { get; set; }

    public DateTimeOffset Oldest { get; private set; } = DateTimeOffset.MaxValue;

    public DateTimeOffset Newest { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>The newest time of anything in it, acknowledgements included: retention drops it once that day is past.</summary>
    public DateTimeOffset Latest { get; private set; } = DateTimeOffset.MinValue;

    public bool HasEvents => Newest != DateTimeOffset.MinValue;

    /// <summary>Set once retention has deleted it: a lease that still points here finds nothing to deliver.</summary>
    public bool Dropped { get; set; }

    public Dictionary<(string Tenant, string Endpoint), long> Events { get; } = [];

    /// <summary>What the dedup index's coverage calls it: its seq in the 8 characters a run keeps per partition. Made once: every stored event names it.</summary>
    public string Name { get; } = seq.ToString("D8", CultureInfo.InvariantCulture);

    public long Left => Size - End;

    public void Counted(string tenant, string endpoint, DateTimeOffset receivedAt)
    {
        Day ??= EventIds.PartitionOf(receivedAt);
        Events[(tenant, endpoint)] = Events.GetValueOrDefault((tenant, endpoint)) + 1;
        Oldest = receivedAt < Oldest ? receivedAt : Oldest;
        Newest = receivedAt > Newest ? receivedAt : Newest;
        Touched(receivedAt);
    }

    public void Touched(DateTimeOffset at) => Latest = at > Latest ? at : Latest;

    public SegmentState State() => new(Seq, End, Day, Oldest, Newest, Latest, [.. Events.Select(e => (e.Key.Tenant, e.Key.Endpoint, e.Value))]);

    /// <summary>Takes what a checkpoint knew of it, instead of reading its records up to <see cref="SegmentState.End"/>.</summary>
    public void Restore(SegmentState state)
    {
        End = state.End;
        Day = state.Day;
        Oldest = state.Oldest;
        Newest = state.Newest;
        Latest = state.Latest;
        foreach (var (tenant, endpoint, events) in state.Counts)
        {
            Events[(tenant, endpoint)] = events;
        }
    }

    public static string FileName(long seq) => seq.ToString("D12", CultureInfo.InvariantCulture) + Suffix;

    public static long? SeqOf(string path) =>
        System.IO.Path.GetFileName(path) is var name && name.EndsWith(Suffix, StringComparison.Ordinal)
        && long.TryParse(name.AsSpan(0, name.Length - Suffix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var seq) ? seq : null;

    public void Dispose() => Handle.Dispose();
}
