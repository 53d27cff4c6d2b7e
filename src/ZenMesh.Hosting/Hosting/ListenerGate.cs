namespace ZenMesh.Hosting;

/// <summary>
/// Runs after routing, before authentication: a route is served only on the listener it declares
/// (<see cref="ServedOn"/>), so the admin views and APIs of the HTTP port are not also reachable
/// through the xDS or job-stream port, whatever headers the caller sends. A request no route
/// matched, or matched on the wrong listener, is answered 404 here, before any authorization.
/// </summary>
public sealed class ListenerGate(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext http)
    {
        var endpoint = http.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<ServedOn>() is { } on && on.Listener.EndPoint.Port == http.Connection.LocalPort)
        {
            return next(http);
        }
        return Results.Problem(statusCode: 404, title: "Not found", detail: $"Nothing is served at {http.Request.Method} {http.Request.Path} on this port.").ExecuteAsync(http);
    }
}
