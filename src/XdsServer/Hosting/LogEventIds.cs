namespace ZenMesh.XdsServer.Hosting;

/// <summary>Every log event id of the XdsServer, in one place so they stay unique and stable.</summary>
internal static class LogEventIds
{
    // 1000-1099: the protocol's own (ZenMesh.Xds.Protocol.XdsLogEventIds).
    public const int ResourcesLoaded = 1100;
    public const int ResourcesRejected = 1101;
    public const int ResourcesUnchanged = 1102;
    public const int Listening = 1200;
    public const int AdminTokenCreated = 1300;
    public const int AdminTokenPromoted = 1301;
    public const int AdminTokenReplaced = 1302;
    public const int ReplicaDisconnected = 1400;
    public const int ReplicaReconnected = 1401;
    public const int ReplicaRefreshFailed = 1402;
    public const int CleartextXds = 1500;
    public const int CaCreated = 1501;
    public const int CredentialRevoked = 1502;
}
