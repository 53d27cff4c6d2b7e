using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ZenMesh.Ingester.Storage;

/// <summary>
/// Makes what was written to a file durable: fdatasync on Linux (the data and the size, not the
/// timestamps, which is all a write-ahead log needs), a full flush to disk elsewhere. A class of
/// its own so tests can stand in for the disk and hold or fail a sync.
/// </summary>
public class FileSync
{
    public virtual void Sync(SafeFileHandle file)
    {
        if (OperatingSystem.IsLinux())
        {
            if (Native.fdatasync(file) != 0)
            {
                throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
            return;
        }
        RandomAccess.FlushToDisk(file);
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int fdatasync(SafeFileHandle fd);
    }
}
