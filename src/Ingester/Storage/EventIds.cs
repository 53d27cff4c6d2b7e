using System.Globalization;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Event ids are "ev_" and a version-7 UUID of the receive time: stable, sortable, and they name
/// their own time partition, so a lookup by id needs no index across partitions.
/// </summary>
public static class EventIds
{
    public static string New(DateTimeOffset receivedAt) => "ev_" + Guid.CreateVersion7(receivedAt).ToString("N");

    /// <summary>The partition (UTC day, "yyyyMMdd") an event received at <paramref name="at"/> lives in.</summary>
    public static string PartitionOf(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    /// <summary>The partition of an event id, or null when it is not one of ours.</summary>
    public static string? PartitionOf(string eventId)
    {
        // The UUID's first 48 bits are the Unix time in milliseconds.
        if (eventId.Length != 35 || !eventId.StartsWith("ev_", StringComparison.Ordinal)
            || !long.TryParse(eventId.AsSpan(3, 12), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var ms))
        {
            return null;
        }
        return PartitionOf(DateTimeOffset.FromUnixTimeMilliseconds(ms));
    }

    /// <summary>The first instant after a partition's day: once that is older than the retention, the whole partition may go.</summary>
    public static DateTimeOffset EndOf(string partition) =>
        new DateTimeOffset(DateTime.ParseExact(partition, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal), TimeSpan.Zero).AddDays(1);
}
