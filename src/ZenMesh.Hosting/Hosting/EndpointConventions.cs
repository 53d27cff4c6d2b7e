namespace ZenMesh.Hosting;

/// <summary>Several endpoints' convention builders as one, so a host can declare where and to whom a whole family (the xDS services) is served.</summary>
public sealed class EndpointConventions(IReadOnlyList<IEndpointConventionBuilder> builders) : IEndpointConventionBuilder
{
    public void Add(Action<EndpointBuilder> convention)
    {
        foreach (var builder in builders)
        {
            builder.Add(convention);
        }
    }

    public void Finally(Action<EndpointBuilder> finallyConvention)
    {
        foreach (var builder in builders)
        {
            builder.Finally(finallyConvention);
        }
    }
}
