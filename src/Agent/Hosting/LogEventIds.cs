namespace ZenMesh.Agent.Hosting;

/// <summary>Every log event id of the agent, in one place so they stay unique and stable.</summary>
internal static class LogEventIds
{
    // 1000-1099: the relay's protocol (ZenMesh.Xds.Protocol.XdsLogEventIds).
    public const int Listening = 2000;
    public const int ServingLastKnownGood = 2100;
    public const int NoLastKnownGood = 2101;
    // 2102-2103: the generation store (ZenMesh.Xds.LastKnownGood.LastKnownGoodLogEventIds).
    public const int GenerationSaveFailed = 2104;
    public const int InconsistentGeneration = 2105;
    // The upstream stream itself logs as the one delta client (ZenMesh.Xds.Client.DeltaClient, 1110-1114).
    public const int UpstreamRefused = 2202;
    public const int IncompleteConfig = 2203;
    public const int ReportRefused = 2205;
    public const int Stale = 2300;
    public const int LocalNack = 2301;
    public const int CredentialRenewed = 2400;
    public const int CredentialRenewalFailed = 2401;
    public const int ClockSkew = 2402;
}
