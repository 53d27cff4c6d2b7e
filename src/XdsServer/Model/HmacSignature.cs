namespace ZenMesh.XdsServer.Model;

/// <summary>Where a generic HMAC-SHA256 source (provider "hmac-sha256") puts its signature of the raw body.</summary>
public sealed record HmacSignature
{
    /// <summary>Default "X-Signature".</summary>
    public string Header { get; init; } = "X-Signature";

    /// <summary>"hex" (default) or "base64".</summary>
    public string Encoding { get; init; } = "hex";

    /// <summary>Text before the signature in the header, e.g. "sha256=".</summary>
    public string Prefix { get; init; } = "";

    public static readonly IReadOnlyList<string> Encodings = ["hex", "base64"];
}
