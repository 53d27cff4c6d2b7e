namespace ZenMesh.Hosting;

/// <summary>
/// Endpoint metadata: the one listener a route is served on. <see cref="ListenerGate"/> answers 404
/// for a route reached through any other listener, and for one that declares none.
/// </summary>
public sealed record ServedOn(BoundListener Listener);

public static class ServedOnExtensions
{
    public static TBuilder ServedOn<TBuilder>(this TBuilder builder, BoundListener listener)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new ServedOn(listener));
}
