namespace ZenMesh.Ingester.Intake;

/// <summary>Where webhooks come in: <see cref="HookEndpoint.Route"/>, served by the one <see cref="HookEndpoint"/>.</summary>
public static class HookRoutes
{
    public static void MapHooks(this IEndpointRouteBuilder app)
    {
        // Resolved at the first webhook, not here: building the app must not open the event store
        // (a deployment check builds every service's app without starting it, and PostgreSQL may not be up).
        var hooks = new Lazy<HookEndpoint>(app.ServiceProvider.GetRequiredService<HookEndpoint>);
        // Anyone may post: a webhook proves itself by its provider's signature, checked by the endpoint.
        app.MapPost(HookEndpoint.Route, (RequestDelegate)(http => hooks.Value.ReceiveAsync(http))).AllowAnonymous();
    }
}
