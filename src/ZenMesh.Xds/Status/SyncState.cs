namespace ZenMesh.Xds.Status;

/// <summary>How a client's copy of one resource type compares with what the server would send now.</summary>
public enum SyncState
{
    /// <summary>Nothing sent yet (no request, or the subscription is empty).</summary>
    NotSent,

    /// <summary>The client ACKed exactly what the server would send now.</summary>
    Synced,

    /// <summary>Sent and not yet ACKed, or the server has newer config for it.</summary>
    Stale,

    /// <summary>The client rejected the latest version it was sent.</summary>
    Nacked,
}
