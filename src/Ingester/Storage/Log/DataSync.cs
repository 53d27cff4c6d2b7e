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

    /// <summary>
    /// Writes a range out and waits for it, without flushing the disk's cache: used while zero-filling
    /// and writing checkpoints, so the disk never holds more than one range of them ahead of a commit's
    /// flush. Elsewhere, a no-op.
    /// </summary>
    public static void WriteOut(SafeFileHandle file, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            // SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER
            if (SyncFileRange((int)file.DangerousGetHandle(), offset, length, 1 | 2 | 4) != 0)
            {
                throw new IOException($"could not write part of a log file out (errno {Marshal.GetLastPInvokeError()})");
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

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(int fd, long offset, long nbytes, uint flags);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int Fdatasync(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);
}
