using System.Globalization;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Event ids are "ev_" and a version-7 UUID of the receive time: stable, sortable, and they name
/// their own time partition, so a lookup by id needs no index across partitions.
/// </summary>
public static class EventIds
{
    /// <summary>The id of the event whose UUID this is.</summary>
    public static string Of(Guid uuid) => string.Create(35, uuid, static (id, uuid) =>
    {
        "ev_".CopyTo(id);
        uuid.TryFormat(id[3..], out _, "N");
    });

    /// <summary>The UUID inside one of our ids, or null when it is not one of ours.</summary>
    public static Guid? UuidOf(string eventId) =>
        eventId.Length == 35 && eventId.StartsWith("ev_", StringComparison.Ordinal) && Guid.TryParseExact(eventId.AsSpan(3), "N", out var uuid) ? uuid : null;

    /// <summary>The time a version-7 UUID was made for (its first 48 bits, Unix milliseconds).</summary>
    public static DateTimeOffset TimeOf(Guid uuid)
    {
        Span<byte> bytes = stackalloc byte[16];
        uuid.TryWriteBytes(bytes, bigEndian: true, out _);
        var ms = ((long)bytes[0] << 40) | ((long)bytes[1] << 32) | ((long)bytes[2] << 24) | ((long)bytes[3] << 16) | ((long)bytes[4] << 8) | bytes[5];
        return DateTimeOffset.FromUnixTimeMilliseconds(ms);
    }

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
