using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using ZenMesh.XdsServer.Api;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// Turns the authorization verdict into the answer: a 401 or 403 problem that says what was
/// missing and how to fix it, or, allowed, the <see cref="Caller"/> the endpoint acts for (with
/// the tenant the operator named, which must exist).
/// </summary>
internal sealed class AccessResults(TenantStore tenants) : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext http, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (OperatorConsole.ConsoleEndpoints.IsConsole(http) && (result.Challenged || result.Forbidden))
        {
            // The console answers with pages: not signed in (or a revoked token) goes to sign in.
            if (result.Challenged)
            {
                http.Response.Redirect(OperatorConsole.ConsoleEndpoints.SignInPath + (http.Items[TokenAuthenticationHandler.FailureKey] as string == TokenAuthenticationHandler.Unknown ? "?error=unknown" : ""));
                return;
            }
            http.Response.StatusCode = 403;
            await http.Response.WriteAsync(result.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? "This token may not do this.");
            return;
        }
        if (result.Challenged)
        {
            var reason = http.Items[TokenAuthenticationHandler.FailureKey] as string ?? TokenAuthenticationHandler.Missing;
            http.Response.Headers.WWWAuthenticate = reason == TokenAuthenticationHandler.Unknown ? "Bearer error=\"invalid_token\"" : "Bearer";
            await Problems.Of(401, "Unauthorized", reason).ExecuteAsync(http);
            return;
        }
        if (result.Forbidden)
        {
            var reason = result.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message
                ?? (policy.Requirements.Any(r => r is AccessPolicies.UndeclaredRoute)
                    ? "This route declares no authorization rule, so no one may call it. This is a ZenMesh bug; please report it."
                    : "This token may not do this.");
            await Problems.Of(403, "Forbidden", reason).ExecuteAsync(http);
            return;
        }
        if (CallerClaims.Read(http.User) is { } claims)
        {
            var tenant = claims.Tenant;
            if (claims.Role == Role.Operator)
            {
                tenant = CallerClaims.NamedTenant(http) ?? ApiToken.DefaultTenant;
                var inTenant = policy.Requirements.OfType<AccessRequirement>().Any(r => r.InTenant);
                if (inTenant && !tenants.Exists(tenant))
                {
                    await Problems.Of(404, "Unknown tenant", $"The {CallerClaims.TenantHeader} header names tenant '{tenant}', which does not exist. List them with GET /api/v1/tenants ('zenmesh tenant list'), or create it: POST /api/v1/tenants {{\"name\":\"{tenant}\"}}.").ExecuteAsync(http);
                    return;
                }
            }
            new Caller(tenant, claims.Role, claims.TokenId, claims.TokenName).AttachTo(http);
        }
        await next(http);
    }
}
