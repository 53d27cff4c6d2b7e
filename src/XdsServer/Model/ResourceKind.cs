namespace ZenMesh.XdsServer.Model;

/// <summary>The four kinds of desired state, as they appear in API paths.</summary>
public enum ResourceKind
{
    Edge,
    Endpoint,
    Target,
    Flow,
}

public static class ResourceKinds
{
    public static string Plural(this ResourceKind kind) => kind switch
    {
        ResourceKind.Edge => "edges",
        ResourceKind.Endpoint => "endpoints",
        ResourceKind.Target => "targets",
        _ => "flows",
    };

    public static bool TryParsePlural(string plural, out ResourceKind kind)
    {
        foreach (var k in Enum.GetValues<ResourceKind>())
        {
            if (k.Plural() == plural)
            {
                kind = k;
                return true;
            }
        }
        kind = default;
        return false;
    }
}
