using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Api;

/// <summary>
/// A request that needs the database while it is down gets 503 saying so; nothing was changed
/// (every change is one transaction) and the edges keep their last config.
/// </summary>
internal sealed class DatabaseUnavailableMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (DatabaseUnavailableException e) when (!http.Response.HasStarted)
        {
            http.Response.Headers.RetryAfter = "5";
            await Problems.Of(503, "Database unavailable", $"{e.Message} Nothing was changed; edges keep serving their last config. Retry shortly.").ExecuteAsync(http);
        }
    }
}
