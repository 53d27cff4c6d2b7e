namespace ZenMesh.Hosting;

/// <summary>What every data-plane service on an edge (ingester, egress) is configured with, whatever else it has.</summary>
public interface IEdgeServiceOptions
{
    /// <summary>The edge's node id, tenant/edge.</summary>
    string Edge { get; }

    /// <summary>Where the agent writes the secrets this service reads; null for none.</summary>
    string? SecretsDir { get; }
}
