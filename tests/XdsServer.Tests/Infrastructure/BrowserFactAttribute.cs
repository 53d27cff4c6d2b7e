namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>A test that drives a real browser (Debian's Chromium through Playwright); skipped, with the reason and the fix, where there is none.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BrowserFactAttribute : FactAttribute
{
    /// <summary>The Chromium the tests drive: Playwright's own download does not work here.</summary>
    public static string Chromium => Environment.GetEnvironmentVariable("ZENMESH_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public BrowserFactAttribute()
    {
        if (!File.Exists(Chromium))
        {
            Skip = $"no Chromium at {Chromium}: 'apt-get install chromium' (.ci/run does), or set ZENMESH_CHROMIUM to one";
        }
    }
}
