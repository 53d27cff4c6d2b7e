using System.Text.Json;

namespace ZenMesh.Ingester.Verification;

/// <summary>
/// Stripe: "Stripe-Signature: t=&lt;unix&gt;,v1=&lt;hex&gt;[,v1=...]", HMAC-SHA256 of "{t}.{body}" keyed with
/// the whole secret string (whsec_...), any v1 may match, 300 s tolerance. Event id: the body's "id".
/// </summary>
public sealed class StripeVerifier(TimeSpan? tolerance = null) : IWebhookVerifier
{
    public const string Header = "Stripe-Signature";
    private readonly TimeSpan _tolerance = tolerance ?? TimeSpan.FromSeconds(300);
    private readonly KeyedHmacs _hmacs = new();

    public Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now)
    {
        if (request.Header(Header) is not { } header)
        {
            return Verdict.Reject(RejectReason.MissingSignature, $"the {Header} header is missing");
        }
        string? timestamp = null;
        var candidates = new List<byte[]>();
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = part.Split('=', 2) is [var k, var v] ? (k, v) : (part, "");
            if (key == "t")
            {
                timestamp = value;
            }
            else if (key == "v1" && Signatures.FromHex(value) is { } signature)
            {
                candidates.Add(signature);
            }
        }
        if (candidates.Count == 0)
        {
            return Verdict.Reject(RejectReason.MalformedSignature, $"the {Header} header has no v1 signature in hex");
        }
        if (Signatures.CheckTimestamp(timestamp, now, _tolerance, Header) is { } stale)
        {
            return stale;
        }
        var prefix = Signatures.Utf8($"{timestamp}.");
        foreach (var secret in secrets)
        {
            if (_hmacs.MatchesAny(secret, prefix, request.Body.Span, candidates))
            {
                return Verdict.Accept(EventIdOf(request.Body.Span));
            }
        }
        return Verdict.Reject(RejectReason.SignatureMismatch, $"no v1 signature in {Header} matches any active secret");
    }

    /// <summary>The top-level "id" of the event JSON (evt_...), or null.</summary>
    private static string? EventIdOf(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("id"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    return reader.GetString();
                }
                reader.Read();
                reader.TrySkip();
            }
        }
        catch (JsonException)
        {
            // Verified bytes that are not JSON: deduplicated by content hash instead.
        }
        return null;
    }
}
