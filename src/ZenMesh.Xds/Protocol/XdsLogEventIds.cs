namespace ZenMesh.Xds.Protocol;

/// <summary>The log event ids of the protocol, the same in the control plane and the agent.</summary>
internal static class XdsLogEventIds
{
    public const int StreamOpened = 1000;
    public const int StreamClosed = 1001;
    public const int StreamFailed = 1002;
    public const int ResponseSent = 1010;
    public const int StaleNonce = 1011;
    public const int Nack = 1012;
    public const int Ack = 1013;
    public const int AckOfUnsentVersion = 1014;
}
