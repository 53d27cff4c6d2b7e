namespace ZenMesh.Ingester.Intake;

/// <summary>Where webhooks come in: <see cref="HookEndpoint.Route"/>, served by the one <see cref="HookEndpoint"/>.</summary>
public static class HookRoutes
{
    public static void MapHooks(this IEndpointRouteBuilder app)
    {
        var hooks = app.ServiceProvider.GetRequiredService<HookEndpoint>();
        app.MapPost(HookEndpoint.Route, (RequestDelegate)hooks.ReceiveAsync);
    }
}
