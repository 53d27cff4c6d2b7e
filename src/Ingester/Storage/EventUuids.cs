using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// The version-7 UUIDs events are named by (RFC 9562: 48 bits of Unix milliseconds, then 74 random
/// bits), with the random bits taken from a buffer refilled 400 ids at a time.
/// </summary>
/// <remarks>
/// <c>Guid.CreateVersion7</c> reads its 16 random bytes from /dev/urandom with a system call per id on
/// .NET's Linux builds. The store's one writer makes every id, and a system call costs 1.1-1.5 us on
/// this virtual machine. Without them, about 5% more webhooks were stored in the same time
/// (bench/HISTORY.md, session 21).
/// </remarks>
public sealed class EventUuids
{
    private const int RandomBytes = 10;
    private readonly Lock _gate = new();
    private readonly byte[] _random = new byte[RandomBytes * 400];
    private int _used = RandomBytes * 400;

    /// <summary>A new UUID for an event received at <paramref name="receivedAt"/> (at or after 1970).</summary>
    public Guid New(DateTimeOffset receivedAt)
    {
        var ms = receivedAt.ToUnixTimeMilliseconds();
        ArgumentOutOfRangeException.ThrowIfNegative(ms, nameof(receivedAt));
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes, ms << 16);
        lock (_gate)
        {
            if (_used == _random.Length)
            {
                RandomNumberGenerator.Fill(_random);
                _used = 0;
            }
            _random.AsSpan(_used, RandomBytes).CopyTo(bytes[6..]);
            _used += RandomBytes;
        }
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}
