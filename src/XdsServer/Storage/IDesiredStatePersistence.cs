using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>Where desired state survives restarts. Saving is all or nothing.</summary>
public interface IDesiredStatePersistence
{
    /// <summary>Everything stored; a row that cannot be read is reported, not skipped.</summary>
    DesiredState Load();

    void Save(IReadOnlyList<Change> changes);

    /// <summary>Where it lives, for logs and errors.</summary>
    string Describe();
}
