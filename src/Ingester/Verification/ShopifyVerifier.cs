namespace ZenMesh.Ingester.Verification;

/// <summary>Shopify: "X-Shopify-Hmac-SHA256: &lt;base64&gt;" of the raw body. Event id: X-Shopify-Webhook-Id.</summary>
public sealed class ShopifyVerifier : IWebhookVerifier
{
    public const string Header = "X-Shopify-Hmac-SHA256";
    private readonly KeyedHmacs _hmacs = new();

    public Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now)
    {
        if (request.Header(Header) is not { } header)
        {
            return Verdict.Reject(RejectReason.MissingSignature, $"the {Header} header is missing");
        }
        if (Signatures.FromBase64(header) is not { Length: 32 } presented)
        {
            return Verdict.Reject(RejectReason.MalformedSignature, $"the {Header} header is not a base64 HMAC-SHA256");
        }
        foreach (var secret in secrets)
        {
            if (_hmacs.Matches(secret, [], request.Body.Span, presented))
            {
                return Verdict.Accept(request.Header("X-Shopify-Webhook-Id") ?? request.Header("X-Shopify-Event-Id"), idIsSigned: false);
            }
        }
        return Verdict.Reject(RejectReason.SignatureMismatch, $"the {Header} signature matches no active secret");
    }
}
