using System.Net;
using Microsoft.AspNetCore.Authorization;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Auth;

/// <summary>Judges <see cref="AccessRequirement"/>: the token's role, the tenant the request names, where the listener is bound.</summary>
internal sealed class AccessRequirementHandler(BoundEndpoints bound) : AuthorizationHandler<AccessRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AccessRequirement requirement)
    {
        if (requirement.OpenOnLoopback && IPAddress.IsLoopback(bound.Http.EndPoint.Address))
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }
        if (CallerClaims.Read(context.User) is not { } caller)
        {
            // Unauthenticated: the middleware challenges (401).
            return Task.CompletedTask;
        }
        if (caller.Role == Role.Operator)
        {
            context.Succeed(requirement);
            return Task.CompletedTask;
        }
        if (caller.Role < requirement.Minimum)
        {
            context.Fail(new AuthorizationFailureReason(this, requirement.OpenOnLoopback
                ? $"This needs the {CallerClaims.Lower(requirement.Minimum)} role while the HTTP listener is bound beyond loopback; the token '{caller.TokenName}' is {CallerClaims.Lower(caller.Role)} in tenant '{caller.Tenant}'."
                : $"This needs the {CallerClaims.Lower(requirement.Minimum)} role; the token '{caller.TokenName}' is {CallerClaims.Lower(caller.Role)} in tenant '{caller.Tenant}'."));
            return Task.CompletedTask;
        }
        if (requirement.InTenant && context.Resource is HttpContext http && CallerClaims.NamedTenant(http) is { } named && named != caller.Tenant)
        {
            context.Fail(new AuthorizationFailureReason(this, $"The token '{caller.TokenName}' is {CallerClaims.Lower(caller.Role)} in tenant '{caller.Tenant}'; it cannot act in tenant '{named}'. Leave out the {CallerClaims.TenantHeader} header, or use a token of that tenant."));
            return Task.CompletedTask;
        }
        context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
