using System.Diagnostics;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// A directory on tests/powerloss/powerloss_fs.py (FUSE), where a test can pull the plug: after
/// <see cref="PullThePlugAsync"/> every operation there fails, and <see cref="RebuildAsync"/>
/// gives the directory as a disk would hold it after that power loss: each file as of its last
/// fsync, each directory's entries as of its last directory fsync (optionally with a random prefix
/// of the writes made since, as ALICE does). A service is then started again on the rebuilt
/// directory. Needs Linux, root, /dev/fuse and Python's fusepy (CI installs python3-fusepy and fuse3).
/// </summary>
public sealed class PowerLossFilesystem : IAsyncDisposable
{
    private readonly string _root;
    private readonly Process _fs;
    private readonly StringWriter _errors;
    private bool _mounted = true;

    private PowerLossFilesystem(string root, Process fs, StringWriter errors)
    {
        _root = root;
        _fs = fs;
        _errors = errors;
    }

    /// <summary>Where the service under test keeps its files.</summary>
    public string Path => System.IO.Path.Combine(_root, "mnt");

    private string State => System.IO.Path.Combine(_root, "state");

    // Before Unavailable, which reads it: static initializers run in the order they are written.
    /// <summary>A Python that has fusepy: Debian's (a pyenv or venv on PATH may not see its packages).</summary>
    private static string? Python { get; } = new[] { "/usr/bin/python3", "python3" }.FirstOrDefault(p => Run(p, "-c", "import fusepy").ExitCode == 0);

    /// <summary>Why no power-loss filesystem can be mounted here, or null when one can.</summary>
    public static string? Unavailable { get; } = Probe();

    private static string Script => RepoPaths.Combine("tests", "powerloss", "powerloss_fs.py");

    /// <summary>A new, empty power-loss filesystem (or holding a copy of <paramref name="from"/>, counted as synced).</summary>
    public static async Task<PowerLossFilesystem> MountAsync(string? from = null)
    {
        var root = Directory.CreateTempSubdirectory("zenmesh-powerloss-").FullName;
        var backing = Directory.CreateDirectory(System.IO.Path.Combine(root, "backing")).FullName;
        Directory.CreateDirectory(System.IO.Path.Combine(root, "state"));
        var mount = Directory.CreateDirectory(System.IO.Path.Combine(root, "mnt")).FullName;
        if (from is not null)
        {
            Copy(from, backing);
        }
        var start = new ProcessStartInfo(Python ?? "python3") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { Script, "mount", backing, System.IO.Path.Combine(root, "state"), mount })
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start)!;
        var errors = new StringWriter();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (errors) { errors.WriteLine(e.Data); } } };
        process.BeginErrorReadLine();
        var filesystem = new PowerLossFilesystem(root, process, errors);
        var deadline = Stopwatch.StartNew();
        while (!IsMounted(mount))
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(15))
            {
                await filesystem.DisposeAsync();
                throw new InvalidOperationException($"powerloss_fs.py did not mount {mount}: {errors}");
            }
            await Task.Delay(20);
        }
        return filesystem;
    }

    /// <summary>The power goes: from now on nothing more reaches the disk, and every operation on <see cref="Path"/> fails.</summary>
    public async Task PullThePlugAsync() => await File.WriteAllTextAsync(System.IO.Path.Combine(Path, ".powerloss"), "plug");

    /// <summary>
    /// Unmounts, and builds a directory as the disk would be after the power loss: what was synced,
    /// plus, with <paramref name="unsyncedPrefixSeed"/>, a random prefix of the writes made after it.
    /// </summary>
    public async Task<string> RebuildAsync(int? unsyncedPrefixSeed = null)
    {
        await UnmountAsync();
        var target = System.IO.Path.Combine(_root, $"rebuilt-{Guid.NewGuid():N}");
        string[] args = unsyncedPrefixSeed is { } seed ? [Script, "rebuild", State, target, "--unsynced-prefix", seed.ToString(System.Globalization.CultureInfo.InvariantCulture)] : [Script, "rebuild", State, target];
        var (exit, output) = Run(Python ?? "python3", args);
        if (exit != 0)
        {
            throw new InvalidOperationException($"powerloss_fs.py rebuild failed ({exit}): {output}");
        }
        return target;
    }

    private async Task UnmountAsync()
    {
        if (!_mounted)
        {
            return;
        }
        _mounted = false;
        Run("umount", "-l", Path);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await _fs.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _fs.Kill();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await UnmountAsync();
        _fs.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A service still holding a file there: the temp directory is left behind.
        }
    }

    private static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mounts").Any(line => line.Split(' ') is [_, var point, ..] && point == path);

    private static void Copy(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, dir)));
        }
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, System.IO.Path.Combine(to, System.IO.Path.GetRelativePath(from, file)));
        }
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root" || !File.Exists("/dev/fuse"))
        {
            return "the power-loss filesystem needs Linux, root and /dev/fuse (CI runs as root)";
        }
        if (Python is null)
        {
            return "the power-loss filesystem needs Python's fusepy (Debian: apt-get install python3-fusepy fuse3; .ci/run installs them)";
        }
        return null;
    }

    private static (int ExitCode, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output.Result + error);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
