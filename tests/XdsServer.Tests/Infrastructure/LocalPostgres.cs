using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// Where the PostgreSQL tests get a server, in this order: ZENMESH_TEST_POSTGRES (a connection string
/// to a server someone else runs), Debian's postgresql binaries started here in a temporary
/// directory, or a pinned postgres container where a Docker engine answers.
/// </summary>
internal static class LocalPostgres
{
    public const string EnvironmentVariable = "ZENMESH_TEST_POSTGRES";

    /// <summary>Null when PostgreSQL can be had; otherwise why not and how to fix it.</summary>
    public static readonly string? Unavailable = FindUnavailableReason();

    public static string? ExternalConnectionString => Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } s ? s : null;

    /// <summary>The directory holding initdb and pg_ctl, newest major version first.</summary>
    public static string? BinDirectory()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }
        return Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
    }

    /// <summary>No local binaries, but Docker: the tests run against a container (Testcontainers).</summary>
    public static bool UseContainer => ExternalConnectionString is null && BinDirectory() is null && DockerEngine.Unavailable is null;

    /// <summary>initdb refuses to run as root; Debian's package creates the 'postgres' user for that.</summary>
    public static bool RunsAsRoot => Environment.UserName == "root";

    private static string? FindUnavailableReason()
    {
        if (ExternalConnectionString is not null)
        {
            return null;
        }
        if (BinDirectory() is null)
        {
            return UseContainer ? null : $"PostgreSQL is not installed and {DockerEngine.Unavailable}: install Debian's postgresql (.ci/run does), or set {EnvironmentVariable} to a connection string of a server whose user may CREATE DATABASE.";
        }
        if (RunsAsRoot && !File.ReadLines("/etc/passwd").Any(l => l.StartsWith("postgres:", StringComparison.Ordinal)))
        {
            return $"running as root, and there is no 'postgres' user to run initdb as: install Debian's postgresql package, or set {EnvironmentVariable}.";
        }
        return null;
    }

    public static async Task<string> RunAsync(string file, IEnumerable<string> args, bool asPostgresUser, TimeSpan timeout)
    {
        var start = asPostgresUser ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", file, .. args]) : new ProcessStartInfo(file, args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WithTimeout($"{Path.GetFileName(file)} {string.Join(' ', args)}", timeout);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
        return await stdout;
    }
}
