using System.Security.Cryptography;
using System.Text;

namespace ZenMesh.Ingester.Verification;

/// <summary>HMAC-SHA256 over a signed payload, compared in constant time.</summary>
internal static class Signatures
{
    public static byte[] HmacSha256(ReadOnlySpan<byte> key, ReadOnlySpan<byte> payload) => HMACSHA256.HashData(key, payload);

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>"{prefix}{body}" as bytes, without copying the body twice.</summary>
    public static byte[] Concat(string prefix, ReadOnlySpan<byte> body)
    {
        var head = Encoding.UTF8.GetBytes(prefix);
        var all = new byte[head.Length + body.Length];
        head.CopyTo(all, 0);
        body.CopyTo(all.AsSpan(head.Length));
        return all;
    }

    public static bool Equal(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> presented) => CryptographicOperations.FixedTimeEquals(expected, presented);

    public static byte[]? FromHex(string text)
    {
        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public static byte[]? FromBase64(string text)
    {
        try
        {
            return Convert.FromBase64String(text);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>Unix seconds within <paramref name="tolerance"/> of now (either side), or the reason it is not.</summary>
    public static Verdict? CheckTimestamp(string? text, DateTimeOffset now, TimeSpan tolerance, string header)
    {
        if (text is null)
        {
            return Verdict.Reject(RejectReason.MissingTimestamp, $"the {header} timestamp is missing");
        }
        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            return Verdict.Reject(RejectReason.MalformedSignature, $"the {header} timestamp '{text}' is not unix seconds");
        }
        var skew = now - DateTimeOffset.FromUnixTimeSeconds(seconds);
        return skew.Duration() > tolerance
            ? Verdict.Reject(RejectReason.StaleTimestamp, $"the {header} timestamp is {Math.Abs(skew.TotalSeconds):0} s {(skew > TimeSpan.Zero ? "old" : "in the future")}; at most {tolerance.TotalSeconds:0} s is accepted (replay protection)")
            : null;
    }
}
