using System.Buffers.Binary;
using System.Numerics;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// CRC-32C (Castagnoli), what tells a whole record from a torn one after a crash. The CPU's own
/// instruction where there is one (<see cref="BitOperations.Crc32C(uint, ulong)"/>), eight bytes a step.
/// </summary>
internal static class Crc32C
{
    public static uint Of(ReadOnlySpan<byte> data) => ~Update(~0u, data);

    /// <summary>Folds <paramref name="data"/> into a running CRC: start from ~0, and the CRC of all of it is the complement of the last state.</summary>
    public static uint Update(uint state, ReadOnlySpan<byte> data)
    {
        var crc = state;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }
        return crc;
    }
}
