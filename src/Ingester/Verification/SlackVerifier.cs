namespace ZenMesh.Ingester.Verification;

/// <summary>Slack: "X-Slack-Signature: v0=&lt;hex&gt;" of "v0:{X-Slack-Request-Timestamp}:{body}", 300 s tolerance. No event id.</summary>
public sealed class SlackVerifier(TimeSpan? tolerance = null) : IWebhookVerifier
{
    public const string Header = "X-Slack-Signature";
    public const string TimestampHeader = "X-Slack-Request-Timestamp";
    private readonly TimeSpan _tolerance = tolerance ?? TimeSpan.FromSeconds(300);
    private readonly KeyedHmacs _hmacs = new();

    public Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now)
    {
        if (request.Header(Header) is not { } header)
        {
            return Verdict.Reject(RejectReason.MissingSignature, $"the {Header} header is missing");
        }
        if (!header.StartsWith("v0=", StringComparison.Ordinal) || Signatures.FromHex(header[3..]) is not { Length: 32 } presented)
        {
            return Verdict.Reject(RejectReason.MalformedSignature, $"the {Header} header is not 'v0=' and 64 hex digits");
        }
        var timestamp = request.Header(TimestampHeader);
        if (Signatures.CheckTimestamp(timestamp, now, _tolerance, TimestampHeader) is { } stale)
        {
            return stale;
        }
        var prefix = Signatures.Utf8($"v0:{timestamp}:");
        foreach (var secret in secrets)
        {
            if (_hmacs.Matches(secret, prefix, request.Body.Span, presented))
            {
                return Verdict.Accept(null);
            }
        }
        return Verdict.Reject(RejectReason.SignatureMismatch, $"the {Header} signature matches no active secret");
    }
}
