using System.Security.Cryptography;
using System.Text;

namespace ZenMesh.Egress.Delivery;

/// <summary>
/// Standard Webhooks signing: HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}" keyed
/// with the bytes of the base64 after "whsec_", sent as "v1,&lt;base64&gt;". During a rotation the
/// secret file holds several secrets and every one signs, so the target can verify with either.
/// </summary>
public static class StandardWebhooksSigner
{
    /// <summary>The webhook-signature value, or null with <paramref name="problem"/> set when a secret is not "whsec_&lt;base64&gt;".</summary>
    public static string? Sign(string id, long timestamp, ReadOnlySpan<byte> body, IReadOnlyList<string> secrets, out string? problem)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        var signatures = new List<string>(secrets.Count);
        for (var i = 0; i < secrets.Count; i++)
        {
            if (KeyOf(secrets[i]) is not { } key)
            {
                problem = $"line {i + 1} of the signing secret is not a Standard Webhooks secret; write it as whsec_ followed by base64 (e.g. whsec_{Convert.ToBase64String(RandomNumberGenerator.GetBytes(24))})";
                return null;
            }
            signatures.Add("v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content)));
        }
        problem = null;
        return string.Join(' ', signatures);
    }

    private static byte[]? KeyOf(string secret)
    {
        var encoded = secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret;
        var key = new byte[encoded.Length];
        return Convert.TryFromBase64String(encoded, key, out var written) && written > 0 ? key[..written] : null;
    }
}
