using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// O_DIRECT on an open file (Linux): its writes go from our buffer to the disk without the page
/// cache. Zero-filling a segment this way used a fourteenth of the CPU that buffered 4 KiB writes
/// did (bench/README, session 20). .NET has no option for it on Unix, so it is set with fcntl.
/// Writes must then be page-aligned in offset, length and memory: see <see cref="AlignedBuffer"/>.
/// </summary>
internal static partial class DirectIo
{
    public const int Alignment = 4096;
    private const int GetFlags = 3;
    private const int SetFlags = 4;

    /// <summary>Turns O_DIRECT on or off; false where this system or file system has no such mode (the file stays buffered).</summary>
    public static bool TrySet(SafeFileHandle file, bool direct)
    {
        if (!OperatingSystem.IsLinux() || DirectFlag() is not { } flag)
        {
            return false;
        }
        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var fd = (int)file.DangerousGetHandle();
            var flags = Fcntl(fd, GetFlags, 0);
            if (flags < 0)
            {
                return false;
            }
            return Fcntl(fd, SetFlags, direct ? flags | flag : flags & ~flag) == 0;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    /// <summary>A span of <paramref name="length"/> zeroes at a page-aligned address, inside a pinned array that the GC never moves.</summary>
    public static Memory<byte> AlignedBuffer(int length)
    {
        var array = GC.AllocateArray<byte>(length + Alignment, pinned: true);
        var address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        var skip = (int)((Alignment - (address % Alignment)) % Alignment);
        return array.AsMemory(skip, length);
    }

    // O_DIRECT's value differs by architecture.
    private static int? DirectFlag() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 or Architecture.X86 => 0x4000,
        Architecture.Arm64 or Architecture.Arm => 0x10000,
        _ => null,
    };

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);
}
