using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.CompilerBench;

/// <summary>Keeps nothing: isolates the compute cost of a change from the cost of an fsync.</summary>
internal sealed class MemoryPersistence : IDesiredStatePersistence
{
    private long _revision;

    public StoredState Load() => new(DesiredState.Empty, _revision);

    public long Revision() => _revision;

    public long Save(IReadOnlyList<Change> changes, long expectedRevision) => ++_revision;

    public string Describe() => "memory";
}
