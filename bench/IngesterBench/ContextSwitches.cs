using System.Runtime.InteropServices;

namespace ZenMesh.IngesterBench;

/// <summary>
/// Context switches (voluntary and involuntary) of this whole process, threads that have ended
/// included. Summing /proc/self/task/*/status instead lost the switches of every thread that ended
/// between two readings, so a run could print a negative count.
/// </summary>
internal static class ContextSwitches
{
    private const int RusageSelf = 0;

    // struct rusage on 64-bit Linux: two timevals (4 longs), then 14 longs; ru_nvcsw and ru_nivcsw are the last two.
    private const int Longs = 18;

    /// <summary>The count so far, or 0 where getrusage is not Linux's.</summary>
    public static long Total()
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
        {
            return 0;
        }
        var usage = new long[Longs];
        return GetRusage(RusageSelf, usage) == 0 ? usage[16] + usage[17] : 0;
    }

    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, [Out] long[] usage);
}
