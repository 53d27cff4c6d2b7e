using System.Buffers.Binary;
using System.Text;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// The log's record format. Every record is its length (4 bytes), the CRC-32C of all that follows
/// the CRC (4), its kind (1) and its payload, little-endian. Segments are zero-filled before use, so
/// a length of zero is where the log ends; a length that runs past the segment or a CRC that does not
/// match is a write torn by a crash, and the log ends there too (nothing after it was acknowledged).
/// An event: its UUID, received-at (UTC ticks and offset minutes), tenant, endpoint, dedup key,
/// event type (length -1 for none), its flows, headers and body. An acknowledgement: when it was written (UTC ticks) and the jobs it ends.
/// </summary>
internal static class LogRecord
{
    public const int HeaderSize = 9;

    public const byte Event = 1;

    public const byte Ack = 2;

    private const int JobKeySize = 8 + 4 + 4;

    public static int EventSize(IncomingEvent e)
    {
        var size = HeaderSize + 16 + 8 + 2 + Str(e.Tenant) + Str(e.Endpoint) + Str(e.DedupKey) + Str(e.EventType) + 4 + 4 + e.HeadersJson.Length + 4 + e.Body.Length;
        foreach (var flow in e.Flows)
        {
            size += Str(flow);
        }
        return size;
    }

    public static int AckSize(int jobs) => HeaderSize + 8 + 4 + (jobs * JobKeySize);

    /// <summary>Writes the event's record at the start of <paramref name="into"/> (exactly <see cref="EventSize"/> bytes).</summary>
    public static void WriteEvent(Span<byte> into, Guid uuid, IncomingEvent e)
    {
        var at = HeaderSize;
        uuid.TryWriteBytes(into[at..], bigEndian: true, out _);
        at += 16;
        BinaryPrimitives.WriteInt64LittleEndian(into[at..], e.ReceivedAt.UtcTicks);
        BinaryPrimitives.WriteInt16LittleEndian(into[(at + 8)..], (short)e.ReceivedAt.Offset.TotalMinutes);
        at += 10;
        at += PutString(into[at..], e.Tenant);
        at += PutString(into[at..], e.Endpoint);
        at += PutString(into[at..], e.DedupKey);
        at += PutString(into[at..], e.EventType);
        BinaryPrimitives.WriteInt32LittleEndian(into[at..], e.Flows.Count);
        at += 4;
        foreach (var flow in e.Flows)
        {
            at += PutString(into[at..], flow);
        }
        at += PutBytes(into[at..], e.HeadersJson);
        at += PutBytes(into[at..], e.Body);
        Seal(into[..at], Event);
    }

    public static void WriteAck(Span<byte> into, DateTimeOffset when, IReadOnlyList<JobKey> jobs)
    {
        var at = HeaderSize;
        BinaryPrimitives.WriteInt64LittleEndian(into[at..], when.UtcTicks);
        at += 8;
        BinaryPrimitives.WriteInt32LittleEndian(into[at..], jobs.Count);
        at += 4;
        foreach (var job in jobs)
        {
            BinaryPrimitives.WriteInt64LittleEndian(into[at..], job.Segment);
            BinaryPrimitives.WriteInt32LittleEndian(into[(at + 8)..], job.Offset);
            BinaryPrimitives.WriteInt32LittleEndian(into[(at + 12)..], job.Flow);
            at += JobKeySize;
        }
        Seal(into[..at], Ack);
    }

    /// <summary>
    /// The length of the whole record at the start of <paramref name="from"/>, or 0 where the log ends
    /// (zeroes, or a torn write). <paramref name="from"/> must hold at least a header, or the rest of the segment.
    /// </summary>
    public static int Measure(ReadOnlySpan<byte> from, long leftInSegment)
    {
        if (from.Length < HeaderSize)
        {
            return 0;
        }
        var length = BinaryPrimitives.ReadInt32LittleEndian(from);
        if (length < HeaderSize + 1 || length > leftInSegment)
        {
            return 0;
        }
        return length;
    }

    /// <summary>Whether a record of <see cref="Measure"/>'s length is whole: its CRC matches and its kind is known.</summary>
    public static bool IsWhole(ReadOnlySpan<byte> record) =>
        BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) == Crc32C.Of(record[8..]) && record[8] is Event or Ack;

    public static byte KindOf(ReadOnlySpan<byte> record) => record[8];

    /// <summary>An event record's UUID, without decoding the rest.</summary>
    public static Guid UuidOf(ReadOnlySpan<byte> record) => new(record.Slice(HeaderSize, 16), bigEndian: true);

    public static LoggedEvent ReadEvent(ReadOnlySpan<byte> record, bool withPayload)
    {
        var at = HeaderSize;
        var uuid = new Guid(record.Slice(at, 16), bigEndian: true);
        at += 16;
        var ticks = BinaryPrimitives.ReadInt64LittleEndian(record[at..]);
        var offset = TimeSpan.FromMinutes(BinaryPrimitives.ReadInt16LittleEndian(record[(at + 8)..]));
        at += 10;
        var tenant = GetString(record, ref at)!;
        var endpoint = GetString(record, ref at)!;
        var dedupKey = GetString(record, ref at)!;
        var eventType = GetString(record, ref at);
        var flows = new string[BinaryPrimitives.ReadInt32LittleEndian(record[at..])];
        at += 4;
        for (var i = 0; i < flows.Length; i++)
        {
            flows[i] = GetString(record, ref at)!;
        }
        byte[]? headers = null, body = null;
        if (withPayload)
        {
            headers = GetBytes(record, ref at);
            body = GetBytes(record, ref at);
        }
        return new LoggedEvent(uuid, new DateTimeOffset(ticks + offset.Ticks, offset), tenant, endpoint, dedupKey, eventType, flows, headers, body);
    }

    public static List<JobKey> ReadAck(ReadOnlySpan<byte> record, out DateTimeOffset written)
    {
        var at = HeaderSize;
        written = new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(record[at..]), TimeSpan.Zero);
        at += 8;
        var count = BinaryPrimitives.ReadInt32LittleEndian(record[at..]);
        at += 4;
        var jobs = new List<JobKey>(count);
        for (var i = 0; i < count; i++, at += JobKeySize)
        {
            jobs.Add(new JobKey(BinaryPrimitives.ReadInt64LittleEndian(record[at..]), BinaryPrimitives.ReadInt32LittleEndian(record[(at + 8)..]), BinaryPrimitives.ReadInt32LittleEndian(record[(at + 12)..])));
        }
        return jobs;
    }

    private static void Seal(Span<byte> record, byte kind)
    {
        BinaryPrimitives.WriteInt32LittleEndian(record, record.Length);
        record[8] = kind;
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Of(record[8..]));
    }

    private static int Str(string? s) => 4 + (s is null ? 0 : Encoding.UTF8.GetByteCount(s));

    private static int PutString(Span<byte> into, string? s)
    {
        if (s is null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(into, -1);
            return 4;
        }
        var written = Encoding.UTF8.GetBytes(s, into[4..]);
        BinaryPrimitives.WriteInt32LittleEndian(into, written);
        return 4 + written;
    }

    private static int PutBytes(Span<byte> into, byte[] bytes)
    {
        BinaryPrimitives.WriteInt32LittleEndian(into, bytes.Length);
        bytes.CopyTo(into[4..]);
        return 4 + bytes.Length;
    }

    private static string? GetString(ReadOnlySpan<byte> record, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(record[at..]);
        at += 4;
        if (length < 0)
        {
            return null;
        }
        var s = Encoding.UTF8.GetString(record.Slice(at, length));
        at += length;
        return s;
    }

    private static byte[] GetBytes(ReadOnlySpan<byte> record, ref int at)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(record[at..]);
        at += 4;
        var bytes = record.Slice(at, length).ToArray();
        at += length;
        return bytes;
    }
}
