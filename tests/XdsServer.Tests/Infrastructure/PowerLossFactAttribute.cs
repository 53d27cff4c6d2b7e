namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A test that needs <see cref="PowerLossFilesystem"/>: skipped, with the reason, where none can be mounted.</summary>
public sealed class PowerLossFactAttribute : FactAttribute
{
    public PowerLossFactAttribute()
    {
        if (PowerLossFilesystem.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
