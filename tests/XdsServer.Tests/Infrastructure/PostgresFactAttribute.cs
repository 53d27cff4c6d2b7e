namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A test that needs PostgreSQL; skipped, with the reason and the fix, where none can be had.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (LocalPostgres.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
