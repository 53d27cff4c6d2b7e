using System.Security.Cryptography;
using System.Text;

namespace ZenMesh.XdsServer.Auth;

/// <summary>A stored token: never its value, only the hash of it.</summary>
public sealed record ApiToken(string Id, string Tenant, Role Role, string Name, DateTimeOffset CreatedAt)
{
    public const string Prefix = "zm_";

    /// <summary>The tenant column of operator tokens: no tenant's admin can list or revoke them.</summary>
    public const string PlatformTenant = "*";

    /// <summary>The tenant every installation has, where the operator acts unless a request names another.</summary>
    public const string DefaultTenant = "default";

    /// <summary>A new token value: 256 random bits, shown once.</summary>
    public static string NewValue() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>SHA-256 is enough for high-entropy tokens (nothing to brute-force); a slow hash would only slow every request.</summary>
    public static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    public static string NewId() => Base64Url(RandomNumberGenerator.GetBytes(9));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
