using System.Text;

namespace ZenMesh.Ingester.Verification;

/// <summary>What the verifiers share: the signatures and timestamps webhooks carry, read (the HMACs themselves: <see cref="KeyedHmacs"/>).</summary>
internal static class Signatures
{
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

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
        if (seconds < DateTimeOffset.MinValue.ToUnixTimeSeconds() || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            // Past what a date holds: refused as stale, never converted (that throws).
            return Verdict.Reject(RejectReason.StaleTimestamp, $"the {header} timestamp '{text}' is not a time within the next or last {tolerance.TotalSeconds:0} s; at most {tolerance.TotalSeconds:0} s is accepted (replay protection)");
        }
        var skew = now - DateTimeOffset.FromUnixTimeSeconds(seconds);
        return skew.Duration() > tolerance
            ? Verdict.Reject(RejectReason.StaleTimestamp, $"the {header} timestamp is {Math.Abs(skew.TotalSeconds):0} s {(skew > TimeSpan.Zero ? "old" : "in the future")}; at most {tolerance.TotalSeconds:0} s is accepted (replay protection)")
            : null;
    }
}
