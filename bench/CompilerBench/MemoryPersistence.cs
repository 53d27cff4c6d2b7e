using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.CompilerBench;

/// <summary>Keeps nothing: isolates the compute cost of a change from the cost of an fsync.</summary>
internal sealed class MemoryPersistence : IDesiredStatePersistence
{
    public DesiredState Load() => DesiredState.Empty;

    public void Save(IReadOnlyList<Change> changes)
    {
    }

    public string Describe() => "memory";
}
