namespace ZenMesh.Ingester.Verification;

/// <summary>The verifier of each provider an endpoint may name (EndpointPolicy.provider).</summary>
public static class Verifiers
{
    public static readonly IReadOnlyList<string> Providers = ["stripe", "github", "standard-webhooks", "shopify", "slack", "hmac-sha256", "none"];

    /// <summary>The verifier for <paramref name="provider"/>; null for "none" (accepted unverified); ArgumentException for an unknown one.</summary>
    public static IWebhookVerifier? For(string provider, HmacScheme? hmac = null) => provider switch
    {
        "stripe" => new StripeVerifier(),
        "github" => new GitHubVerifier(),
        "standard-webhooks" => new StandardWebhooksVerifier(),
        "shopify" => new ShopifyVerifier(),
        "slack" => new SlackVerifier(),
        "hmac-sha256" => new HmacSha256Verifier(hmac),
        "none" => null,
        _ => throw new ArgumentException($"Unknown provider '{provider}'; use one of {string.Join(", ", Providers)}.", nameof(provider)),
    };
}
