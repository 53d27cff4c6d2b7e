using System.Diagnostics;

namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>
/// A tmpfs of a few MiB mounted for one test, so a store on it meets a real ENOSPC; unmounted after.
/// Mounting needs root (CI runs as root); elsewhere the tests that need one are skipped, saying so.
/// </summary>
public sealed class SmallFilesystem : IDisposable
{
    private SmallFilesystem(string path) => Path = path;

    public string Path { get; }

    /// <summary>Why no small filesystem can be mounted here, or null when one can.</summary>
    public static string? Unavailable { get; } = Probe();

    public static SmallFilesystem Mount(int megabytes)
    {
        var path = Directory.CreateTempSubdirectory("zenmesh-small-fs-").FullName;
        Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        return new SmallFilesystem(path);
    }

    /// <summary>Fills what is left with one file, until the filesystem says it is full; deleting it frees the space again.</summary>
    public string Fill()
    {
        var filler = System.IO.Path.Combine(Path, "filler");
        using var file = new FileStream(filler, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        var block = new byte[4096];
        try
        {
            while (true)
            {
                file.Write(block);
            }
        }
        catch (IOException)
        {
            // ENOSPC: full.
        }
        return filler;
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        Directory.Delete(Path);
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return "mounting a small tmpfs to fill needs Linux and root (CI runs as root)";
        }
        try
        {
            using var probe = Mount(1);
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    private static void Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} failed ({process.ExitCode}): {error.Trim()}");
        }
    }
}
