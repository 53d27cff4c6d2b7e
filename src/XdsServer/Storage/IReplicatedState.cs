namespace ZenMesh.XdsServer.Storage;

/// <summary>State a replica holds in memory and must reload when another replica changes it.</summary>
public interface IReplicatedState
{
    /// <summary>The notification topic that says it changed (see <see cref="ControlPlaneDatabase"/>).</summary>
    string Topic { get; }

    void Refresh();
}
