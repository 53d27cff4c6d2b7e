namespace ZenMesh.Xds.LastKnownGood;

/// <summary>Log event ids of the last-known-good store, the same in every process that keeps one.</summary>
internal static class LastKnownGoodLogEventIds
{
    public const int CorruptGeneration = 2102;
    public const int GenerationSaved = 2103;
}
