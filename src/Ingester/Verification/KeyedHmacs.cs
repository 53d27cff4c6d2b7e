using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace ZenMesh.Ingester.Verification;

/// <summary>
/// HMAC-SHA256 keyed once per secret and reused across webhooks. A one-shot HMAC sets its key up,
/// fetches the algorithm and frees it all again on every call: 2.0 us for a 1 KiB body here,
/// against 1.2 us for an instance keyed before (bench/HISTORY.md, session 26), on every webhook. The
/// signed text is hashed in parts ("{t}." and then the body), so it is never copied into one array.
/// </summary>
/// <remarks>
/// An instance serves one verifier, whose secrets rotate rarely; each secret keeps a few keyed
/// hashes, one per webhook verifying with it at the same time. Past <see cref="MaxSecrets"/>
/// secrets (a secret file rewritten over and over) every pool is dropped and keyed again as needed.
/// </remarks>
internal sealed class KeyedHmacs(Func<string, byte[]?> keyOf)
{
    public const int MaxSecrets = 32;

    private readonly ConcurrentDictionary<string, ConcurrentBag<IncrementalHash>> _bySecret = new(StringComparer.Ordinal);

    /// <summary>Keyed with the secret's UTF-8 bytes, as most providers do.</summary>
    public KeyedHmacs()
        : this(static secret => System.Text.Encoding.UTF8.GetBytes(secret))
    {
    }

    /// <summary>
    /// The HMAC of <paramref name="prefix"/> followed by <paramref name="body"/> under
    /// <paramref name="secret"/>, into <paramref name="mac"/> (32 bytes); false when the secret
    /// yields no key (a malformed secret, which matches nothing).
    /// </summary>
    public bool TryCompute(string secret, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body, Span<byte> mac)
    {
        if (!_bySecret.TryGetValue(secret, out var pool))
        {
            if (_bySecret.Count >= MaxSecrets)
            {
                _bySecret.Clear();
            }
            pool = _bySecret.GetOrAdd(secret, static _ => []);
        }
        if (!pool.TryTake(out var hmac))
        {
            // An empty key is no secret at all: anyone can sign with it. A secret file that reads
            // "whsec_" (its key left out) or a blank value must verify nothing.
            if (keyOf(secret) is not { Length: > 0 } key)
            {
                return false;
            }
            hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        }
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        // GetHashAndReset leaves it keyed, ready for the next webhook.
        hmac.GetHashAndReset(mac);
        pool.Add(hmac);
        return true;
    }

    /// <summary>Whether the HMAC under <paramref name="secret"/> equals <paramref name="presented"/>, compared in constant time.</summary>
    public bool Matches(string secret, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body, ReadOnlySpan<byte> presented)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        return TryCompute(secret, prefix, body, mac) && CryptographicOperations.FixedTimeEquals(mac, presented);
    }

    /// <summary>Whether the HMAC under <paramref name="secret"/> equals any of <paramref name="candidates"/>, each compared in constant time.</summary>
    public bool MatchesAny(string secret, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> body, IReadOnlyList<byte[]> candidates)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (!TryCompute(secret, prefix, body, mac))
        {
            return false;
        }
        var any = false;
        foreach (var candidate in candidates)
        {
            any |= CryptographicOperations.FixedTimeEquals(mac, candidate);
        }
        return any;
    }
}
