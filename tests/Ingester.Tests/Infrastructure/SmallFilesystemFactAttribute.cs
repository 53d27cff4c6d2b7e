namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>A test that needs <see cref="SmallFilesystem"/>: skipped, with the reason, where none can be mounted.</summary>
public sealed class SmallFilesystemFactAttribute : FactAttribute
{
    public SmallFilesystemFactAttribute()
    {
        if (SmallFilesystem.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
