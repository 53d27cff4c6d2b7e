namespace ZenMesh.Ingester.Verification;

/// <summary>How a generic HMAC-SHA256 signature is carried: header name, encoding, optional prefix.</summary>
public sealed record HmacScheme(string Header = "X-Signature", HmacEncoding Encoding = HmacEncoding.Hex, string Prefix = "");

public enum HmacEncoding
{
    Hex,
    Base64,
}

/// <summary>Any HMAC-SHA256-signed source: the raw body's HMAC in a configurable header, hex or base64. No event id.</summary>
public sealed class HmacSha256Verifier(HmacScheme? scheme = null) : IWebhookVerifier
{
    private readonly HmacScheme _scheme = scheme ?? new HmacScheme();
    private readonly KeyedHmacs _hmacs = new();

    public Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now)
    {
        if (request.Header(_scheme.Header) is not { } header)
        {
            return Verdict.Reject(RejectReason.MissingSignature, $"the {_scheme.Header} header is missing");
        }
        var text = header.StartsWith(_scheme.Prefix, StringComparison.Ordinal) ? header[_scheme.Prefix.Length..] : null;
        var presented = text is null ? null : _scheme.Encoding == HmacEncoding.Hex ? Signatures.FromHex(text) : Signatures.FromBase64(text);
        if (presented is not { Length: 32 })
        {
            return Verdict.Reject(RejectReason.MalformedSignature, $"the {_scheme.Header} header is not {(_scheme.Prefix.Length > 0 ? $"'{_scheme.Prefix}' and " : "")}an HMAC-SHA256 in {_scheme.Encoding.ToString().ToLowerInvariant()}");
        }
        foreach (var secret in secrets)
        {
            if (_hmacs.Matches(secret, [], request.Body.Span, presented))
            {
                return Verdict.Accept(null);
            }
        }
        return Verdict.Reject(RejectReason.SignatureMismatch, $"the {_scheme.Header} signature matches no active secret");
    }
}
