namespace ZenMesh.XdsServer.Model;

/// <summary>An inbound webhook receiver on an edge.</summary>
public sealed record Endpoint
{
    public string Edge { get; init; } = "";

    /// <summary>stripe, github, standard-webhooks, shopify, slack, hmac-sha256 or none.</summary>
    public string Provider { get; init; } = "";

    /// <summary>Name of the secret held at the edge (never its value).</summary>
    public string? SecretRef { get; init; }

    /// <summary>Default "/hooks/{tenant}/{endpoint}".</summary>
    public string? Path { get; init; }

    public long MaxBodyBytes { get; init; } = 1024 * 1024;

    public RateLimit? RateLimit { get; init; }

    /// <summary>Only for provider "hmac-sha256": the header and encoding of the signature (defaults X-Signature, hex).</summary>
    public HmacSignature? Hmac { get; init; }

    public static readonly IReadOnlyList<string> Providers = ["stripe", "github", "standard-webhooks", "shopify", "slack", "hmac-sha256", "none"];
}
