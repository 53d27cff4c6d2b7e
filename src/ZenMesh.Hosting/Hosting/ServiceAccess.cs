using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace ZenMesh.Hosting;

/// <summary>
/// Who may call a data-plane service's HTTP routes (agent, ingester, egress), declared on each
/// route: <see cref="Token"/> (the service's <see cref="ServiceToken"/>), <see cref="LocalOrToken"/>,
/// or AllowAnonymous (health, webhooks, which prove themselves by signature). A route that declares
/// nothing is refused to everyone, and a route answers only on the listener it declares.
/// </summary>
public static class ServiceAccess
{
    public const string Token = "service-token";
    public const string LocalOrToken = "local-or-token";

    public static IServiceCollection AddServiceAccess(this IServiceCollection services, ServiceToken token)
    {
        services.AddSingleton(token);
        // No default scheme: a token is looked at only for the routes whose policy asks for one, so
        // a webhook (AllowAnonymous, the intake's hot path) costs no authentication at all.
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ServiceTokenHandler>(ServiceTokenHandler.SchemeName, null);
        services.AddSingleton<IAuthorizationHandler, LocalOrTokenRequirement>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ServiceAccessResults>();
        services.AddAuthorizationBuilder()
            .AddPolicy(Token, p => p.AddAuthenticationSchemes(ServiceTokenHandler.SchemeName).RequireAuthenticatedUser())
            .AddPolicy(LocalOrToken, p => p.AddAuthenticationSchemes(ServiceTokenHandler.SchemeName).AddRequirements(new LocalOrTokenRequirement()))
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ServiceTokenHandler.SchemeName).RequireAssertion(_ => false).Build());
        return services;
    }

    /// <summary>
    /// Routing, then the listener gate, then authentication and authorization: in this order,
    /// before any route runs. A route anyone may call (AllowAnonymous: a webhook, a probe) skips the
    /// last two, which would only let it through: on the intake's hot path they cost a request
    /// service scope and about 3 KiB of allocations per webhook.
    /// </summary>
    public static WebApplication UseServiceAccess(this WebApplication app)
    {
        app.UseRouting();
        app.UseMiddleware<ListenerGate>();
        app.UseWhen(http => http.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is null, guarded =>
        {
            guarded.UseAuthentication();
            guarded.UseAuthorization();
        });
        // WebApplication adds both middlewares ahead of everything when it does not see them on the
        // application itself (a branch's are its own); these are the markers it looks for. Were they
        // renamed, the webhooks would meet the fallback policy and the services' tests would say so.
        ((IApplicationBuilder)app).Properties["__AuthenticationMiddlewareSet"] = true;
        ((IApplicationBuilder)app).Properties["__AuthorizationMiddlewareSet"] = true;
        return app;
    }
}
