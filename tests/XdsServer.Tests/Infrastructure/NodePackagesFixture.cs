using System.Diagnostics;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// Makes sure the harness's pinned npm packages are installed (npm ci from the lock file), once per
/// test run, so the README's single test command is all a newcomer needs.
/// </summary>
public sealed class NodePackagesFixture : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        var dir = RepoPaths.Combine("tests", "xds-harness");
        if (File.Exists(Path.Combine(dir, "node_modules", "@grpc", "grpc-js-xds", "package.json")))
        {
            return;
        }
        var start = new ProcessStartInfo("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("npm was not found; the real-client tests need Node.js 18+ with npm (Debian: apt-get install nodejs npm).", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WithTimeout("npm ci in tests/xds-harness", TimeSpan.FromMinutes(5));
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"npm ci in {dir} failed ({process.ExitCode}): {await stderr}");
            }
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}
