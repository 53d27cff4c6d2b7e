using System.Text;

namespace ZenMesh.Secrets;

/// <summary>
/// Files that hold a credential (tokens, keys, bundles): created with mode 0600 from the first
/// byte, never widened then narrowed, so no other user can open them even for a moment; written
/// beside the target, synced, and renamed over it, so a reader sees the old file or the new, whole;
/// then the directory is synced, so the new file survives a power cut.
/// </summary>
public static class SecretFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Write(string path, string text)
    {
        var temporary = path + ".tmp";
        File.Delete(temporary);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }
        using (var stream = new FileStream(temporary, options))
        {
            stream.Write(Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        // The rename is durable once the directory entry is: a token or key lost to a power cut
        // would be created anew at the next start, and every holder of the old one shut out.
        ZenMesh.Data.DirectorySync.Flush(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>True when only the owner may read or write <paramref name="path"/> (always true on Windows, which has no modes).</summary>
    public static bool IsOwnerOnly(string path) =>
        OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & ~(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute)) == 0;
}
