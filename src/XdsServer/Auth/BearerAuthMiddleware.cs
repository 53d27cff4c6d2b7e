using ZenMesh.XdsServer.Api;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// Every /api/v1 call needs "Authorization: Bearer &lt;token&gt;". Reading needs viewer, changing needs
/// editor, token management needs admin; each answer that refuses says which and how to fix it.
/// </summary>
internal sealed class BearerAuthMiddleware(RequestDelegate next, TokenStore tokens)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (!http.Request.Path.StartsWithSegments("/api/v1", StringComparison.Ordinal) || http.Request.Path.StartsWithSegments("/api/v1/openapi.json", StringComparison.Ordinal))
        {
            await next(http);
            return;
        }
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await Problems.Of(401, "Unauthorized", "Send an API token as 'Authorization: Bearer <token>'. The first admin token is in <data-dir>/admin-token, or set ZENMESH_ADMIN_TOKEN.").ExecuteAsync(http);
            return;
        }
        if (tokens.Find(header["Bearer ".Length..].Trim()) is not { } token)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            await Problems.Of(401, "Unauthorized", "The API token is not known (mistyped, or revoked). Ask an admin of your tenant for a new one.").ExecuteAsync(http);
            return;
        }
        var needed = http.Request.Path.StartsWithSegments("/api/v1/tokens", StringComparison.Ordinal) ? Role.Admin
            : HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method) ? Role.Viewer
            : Role.Editor;
        if (token.Role < needed)
        {
            await Problems.Of(403, "Forbidden", $"This needs the {needed.ToString().ToLowerInvariant()} role; the token '{token.Name}' is {token.Role.ToString().ToLowerInvariant()} in tenant '{token.Tenant}'.").ExecuteAsync(http);
            return;
        }
        new Caller(token.Tenant, token.Role, token.Id).AttachTo(http);
        await next(http);
    }
}
