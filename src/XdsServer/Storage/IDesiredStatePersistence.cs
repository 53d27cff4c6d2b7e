using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>Desired state as stored, with the revision it was read at.</summary>
public sealed record StoredState(DesiredState State, long Revision);

/// <summary>Where desired state survives restarts. Saving is all or nothing.</summary>
public interface IDesiredStatePersistence
{
    /// <summary>Everything stored; a row that cannot be read is reported, not skipped.</summary>
    StoredState Load();

    /// <summary>The stored revision, cheaply: has anyone (another replica) changed anything?</summary>
    long Revision();

    /// <summary>
    /// Stores the changes if the stored revision is still <paramref name="expectedRevision"/> and
    /// returns the new one; otherwise throws <see cref="StaleRevisionException"/> and stores nothing.
    /// </summary>
    long Save(IReadOnlyList<Change> changes, long expectedRevision);

    /// <summary>Where it lives, for logs and errors.</summary>
    string Describe();
}

/// <summary>Another replica changed desired state since this one last read it.</summary>
public sealed class StaleRevisionException(long expected, long actual)
    : Exception($"desired state is at revision {actual}, not {expected}: another replica changed it")
{
    public long Expected { get; } = expected;
    public long Actual { get; } = actual;
}
