using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// What deduplication keys on: the first 128 bits of SHA-256 over "tenant\nendpoint\nkey". A fixed
/// 16 bytes whatever the provider's id looks like (a short primary key), and collisions are out of
/// reach, even for a sender who chooses its ids: two keys among ten billion share one with odds of
/// about 1 in 10^19.
/// </summary>
public static class DedupHash
{
    public const int Bytes = 16;

    public static UInt128 Of(string tenant, string endpoint, string key)
    {
        var length = Encoding.UTF8.GetMaxByteCount(tenant.Length + endpoint.Length + key.Length + 2);
        var rented = length > 512 ? ArrayPool<byte>.Shared.Rent(length) : null;
        try
        {
            Span<byte> text = rented ?? stackalloc byte[length];
            var written = Encoding.UTF8.GetBytes(tenant, text);
            text[written++] = (byte)'\n';
            written += Encoding.UTF8.GetBytes(endpoint, text[written..]);
            text[written++] = (byte)'\n';
            written += Encoding.UTF8.GetBytes(key, text[written..]);
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(text[..written], digest);
            return BinaryPrimitives.ReadUInt128BigEndian(digest);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The hash as the 16 bytes a store keys on.</summary>
    public static void Write(UInt128 hash, Span<byte> destination) => BinaryPrimitives.WriteUInt128BigEndian(destination, hash);
}
