using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace ZenMesh.Hosting;

/// <summary>A refused call to a data-plane service's API: 401 saying which token to send and where it is.</summary>
internal sealed class ServiceAccessResults(ServiceToken token) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged || authorizeResult.Forbidden)
        {
            var unknown = context.Items.ContainsKey(ServiceTokenHandler.FailureKey);
            context.Response.Headers.WWWAuthenticate = unknown ? "Bearer error=\"invalid_token\"" : "Bearer";
            var detail = (unknown ? "The API token is not this service's. " : "This needs this service's API token, as 'Authorization: Bearer <token>'. ")
                + $"It is {token.WhereFrom}.";
            return Results.Problem(statusCode: 401, title: "Unauthorized", detail: detail).ExecuteAsync(context);
        }
        return _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
