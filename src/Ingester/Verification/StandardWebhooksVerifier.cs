namespace ZenMesh.Ingester.Verification;

/// <summary>
/// Standard Webhooks: webhook-id, webhook-timestamp, "webhook-signature: v1,&lt;base64&gt; [v1,...]"
/// over "{id}.{timestamp}.{body}", keyed with the base64 after "whsec_", 300 s tolerance. Event id: webhook-id.
/// </summary>
public sealed class StandardWebhooksVerifier(TimeSpan? tolerance = null) : IWebhookVerifier
{
    private readonly TimeSpan _tolerance = tolerance ?? TimeSpan.FromSeconds(300);
    private readonly KeyedHmacs _hmacs = new(KeyOf);

    public Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now)
    {
        if (request.Header("webhook-signature") is not { } header)
        {
            return Verdict.Reject(RejectReason.MissingSignature, "the webhook-signature header is missing");
        }
        if (request.Header("webhook-id") is not { } id)
        {
            return Verdict.Reject(RejectReason.MissingId, "the webhook-id header is missing");
        }
        var timestamp = request.Header("webhook-timestamp");
        if (Signatures.CheckTimestamp(timestamp, now, _tolerance, "webhook-timestamp") is { } stale)
        {
            return stale;
        }
        var candidates = header.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => s.Split(',', 2))
            .Where(p => p is ["v1", _])
            .Select(p => Signatures.FromBase64(p[1]))
            .OfType<byte[]>()
            .ToList();
        if (candidates.Count == 0)
        {
            return Verdict.Reject(RejectReason.MalformedSignature, "the webhook-signature header has no 'v1,<base64>' signature");
        }
        var prefix = Signatures.Utf8($"{id}.{timestamp}.");
        foreach (var secret in secrets)
        {
            // A secret that is not base64 yields no key, and matches nothing.
            if (_hmacs.MatchesAny(secret, prefix, request.Body.Span, candidates))
            {
                return Verdict.Accept(id);
            }
        }
        return Verdict.Reject(RejectReason.SignatureMismatch, "no v1 signature in webhook-signature matches any active secret");
    }

    public string? Unusable(string secret) => KeyOf(secret) is { Length: > 0 } ? null : "a Standard Webhooks secret is 'whsec_' and the key in base64";

    /// <summary>The key bytes of a "whsec_&lt;base64&gt;" secret (the prefix is optional).</summary>
    public static byte[]? KeyOf(string secret) => Signatures.FromBase64(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret["whsec_".Length..] : secret);
}
