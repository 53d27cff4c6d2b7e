namespace ZenMesh.Ingester.Verification;

/// <summary>GitHub: "X-Hub-Signature-256: sha256=&lt;hex&gt;" of the raw body. Event id: X-GitHub-Delivery.</summary>
public sealed class GitHubVerifier : IWebhookVerifier
{
    public const string Header = "X-Hub-Signature-256";
    public const string DeliveryHeader = "X-GitHub-Delivery";
    private readonly KeyedHmacs _hmacs = new();

    public Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now)
    {
        if (request.Header(Header) is not { } header)
        {
            return Verdict.Reject(RejectReason.MissingSignature, $"the {Header} header is missing");
        }
        if (!header.StartsWith("sha256=", StringComparison.Ordinal) || Signatures.FromHex(header["sha256=".Length..]) is not { Length: 32 } presented)
        {
            return Verdict.Reject(RejectReason.MalformedSignature, $"the {Header} header is not 'sha256=' and 64 hex digits");
        }
        foreach (var secret in secrets)
        {
            if (_hmacs.Matches(secret, [], request.Body.Span, presented))
            {
                return Verdict.Accept(request.Header(DeliveryHeader), idIsSigned: false);
            }
        }
        return Verdict.Reject(RejectReason.SignatureMismatch, $"the {Header} signature matches no active secret");
    }
}
