using System.Security.Cryptography;
using System.Text;

namespace ZenMesh.Xds.Resources;

/// <summary>
/// Versions are derived from content, never from a counter: a restarted server or another replica
/// computes the same version for the same config, and never reuses a version for different config.
/// </summary>
public static class ContentHash
{
    public static string Of(ReadOnlySpan<byte> bytes)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    /// <summary>Hash of an ordered list of (name, version) pairs: the version of a set of resources.</summary>
    public static string OfEntries(IEnumerable<(string Name, string Version)> entries)
    {
        using var hasher = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> separator = [0];
        foreach (var (name, version) in entries)
        {
            hasher.AppendData(Encoding.UTF8.GetBytes(name));
            hasher.AppendData(separator);
            hasher.AppendData(Encoding.UTF8.GetBytes(version));
            hasher.AppendData(separator);
        }
        Span<byte> hash = stackalloc byte[32];
        hasher.GetHashAndReset(hash);
        return Convert.ToHexStringLower(hash[..8]);
    }
}
