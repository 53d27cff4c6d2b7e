namespace ZenMesh.Ingester.Verification;

/// <summary>
/// One provider's signature scheme. <paramref name="secrets"/> holds every active secret (more than
/// one during a rotation); any may match. Comparisons are constant-time.
/// </summary>
public interface IWebhookVerifier
{
    Verdict Verify(WebhookRequest request, IReadOnlyList<string> secrets, DateTimeOffset now);
}
