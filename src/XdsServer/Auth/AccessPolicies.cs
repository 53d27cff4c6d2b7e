using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// The policies endpoints declare (RequireAuthorization(AccessPolicies.Editor), ...). An endpoint
/// that declares none is refused to everyone (the fallback), so a route added without a rule cannot
/// be called, and the route table test names it.
/// </summary>
public static class AccessPolicies
{
    public const string Viewer = "viewer";
    public const string Editor = "editor";
    public const string Admin = "admin";
    public const string Operator = "operator";

    /// <summary>Open while the HTTP listener is on loopback; beyond it, the operator's token (Prometheus sends it as a bearer token).</summary>
    public const string Metrics = "metrics";

    public static IServiceCollection AddAccessPolicies(this IServiceCollection services)
    {
        services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        services.AddSingleton<IAuthorizationHandler, AccessRequirementHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AccessResults>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Viewer, p => p.AddRequirements(new AccessRequirement(Role.Viewer, InTenant: true)))
            .AddPolicy(Editor, p => p.AddRequirements(new AccessRequirement(Role.Editor, InTenant: true)))
            .AddPolicy(Admin, p => p.AddRequirements(new AccessRequirement(Role.Admin, InTenant: true)))
            .AddPolicy(Operator, p => p.AddRequirements(new AccessRequirement(Role.Operator, InTenant: false)))
            .AddPolicy(Metrics, p => p.AddRequirements(new AccessRequirement(Role.Operator, InTenant: false, OpenOnLoopback: true)))
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().AddRequirements(new UndeclaredRoute()).Build());
        return services;
    }

    /// <summary>Never met: the requirement of every endpoint that declared no policy.</summary>
    internal sealed class UndeclaredRoute : IAuthorizationRequirement;
}
