using System.Runtime.InteropServices;

namespace ZenMesh.Data;

/// <summary>
/// fsync of a directory, so that a rename into it survives a power cut (POSIX). .NET will not open a
/// directory as a file, hence libc (Linux and macOS; elsewhere a rename is as durable as it gets).
/// A directory that cannot be opened or synced is an <see cref="IOException"/>: the caller must not
/// report the rename as durable.
/// </summary>
public static partial class DirectorySync
{
    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }
        var fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw Failure("open", directory);
        }
        try
        {
            if (Fsync(fd) != 0)
            {
                throw Failure("fsync", directory);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Creates <paramref name="directory"/> and any missing parents so that they survive a power cut:
    /// each new entry is made durable by an fsync of the directory it was created in.
    /// </summary>
    public static void CreateDurably(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (Directory.Exists(full))
        {
            return;
        }
        if (Path.GetDirectoryName(full) is { } parent)
        {
            CreateDurably(parent);
            Directory.CreateDirectory(full);
            Flush(parent);
        }
    }

    private static IOException Failure(string call, string directory)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"could not {call} the directory {directory} to make its entries durable: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
