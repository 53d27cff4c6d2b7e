namespace ZenMesh.Ingester.Verification;

/// <summary>
/// One provider's signature scheme. <paramref name="secrets"/> holds every active secret (more than
/// one during a rotation); any may match. Comparisons are constant-time.
/// </summary>
public interface IWebhookVerifier
{
    Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now);

    /// <summary>
    /// Whether <paramref name="secret"/> yields a key this scheme can sign with, or what is wrong with
    /// it: a secret with no key (a Standard Webhooks 'whsec_' with nothing after it) would accept
    /// signatures anyone can make, so it is refused when loaded, before any webhook is judged with it.
    /// </summary>
    string? Unusable(string secret) => secret.Length == 0 ? "it is empty" : null;
}
