using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// fdatasync: the file's data on disk, without its times. On a segment written over zeroes nothing
/// else changes, so the sync needs no journal commit, which is what made an appended file's sync
/// twice as slow here (bench/README, session 15). fsync where there is no fdatasync.
/// </summary>
internal static partial class DataSync
{
    public static void Flush(SafeFileHandle file)
    {
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var fd = (int)file.DangerousGetHandle();
            var result = OperatingSystem.IsLinux() ? Fdatasync(fd) : Fsync(fd);
            if (result != 0)
            {
                throw new IOException($"could not sync the event log to disk (errno {Marshal.GetLastPInvokeError()}); nothing in this batch was acknowledged");
            }
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);
}
