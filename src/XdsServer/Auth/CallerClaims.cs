using System.Security.Claims;

namespace ZenMesh.XdsServer.Auth;

/// <summary>What a token proves about its bearer, as claims: its home tenant, role, id and name.</summary>
internal static class CallerClaims
{
    public const string Tenant = "zenmesh:tenant";
    public const string Role = "zenmesh:role";
    public const string TokenId = "zenmesh:token-id";
    public const string TokenName = "zenmesh:token-name";

    /// <summary>The header with which the operator names the tenant a request acts in; another token may name only its own.</summary>
    public const string TenantHeader = "ZenMesh-Tenant";

    public static ClaimsPrincipal Principal(ApiToken token, string scheme) => new(new ClaimsIdentity(
        [
            new Claim(Tenant, token.Tenant),
            new Claim(Role, token.Role.ToString()),
            new Claim(TokenId, token.Id),
            new Claim(TokenName, token.Name),
        ],
        scheme));

    public static (string Tenant, Auth.Role Role, string TokenId, string TokenName)? Read(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true && Enum.TryParse<Auth.Role>(user.FindFirstValue(Role), out var role)
            ? (user.FindFirstValue(Tenant)!, role, user.FindFirstValue(TokenId)!, user.FindFirstValue(TokenName)!)
            : null;

    /// <summary>The tenant the request names (the header; on a console page, its ?tenant=), or null when it names none.</summary>
    public static string? NamedTenant(HttpContext http) =>
        http.Request.Headers.TryGetValue(TenantHeader, out var named) && named.ToString() is { Length: > 0 } value ? value
        : OperatorConsole.ConsoleEndpoints.IsConsole(http) && http.Request.Query["tenant"].ToString() is { Length: > 0 } query ? query
        : null;

    public static string Lower(Auth.Role role) => role.ToString().ToLowerInvariant();
}
