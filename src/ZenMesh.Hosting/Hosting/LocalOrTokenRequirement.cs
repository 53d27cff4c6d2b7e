using System.Net;
using Microsoft.AspNetCore.Authorization;

namespace ZenMesh.Hosting;

/// <summary>
/// Met by the service's token, or without one while the listener the route is served on is bound
/// to loopback: status and metrics for a local scraper, a token once they are reachable beyond.
/// </summary>
internal sealed class LocalOrTokenRequirement : AuthorizationHandler<LocalOrTokenRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, LocalOrTokenRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated == true
            || (context.Resource is HttpContext http && http.GetEndpoint()?.Metadata.GetMetadata<ServedOn>() is { } on && IPAddress.IsLoopback(on.Listener.EndPoint.Address)))
        {
            context.Succeed(requirement);
        }
        return Task.CompletedTask;
    }
}
