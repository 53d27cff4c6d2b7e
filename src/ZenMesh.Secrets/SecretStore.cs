using System.Collections.Concurrent;

namespace ZenMesh.Secrets;

/// <summary>
/// The edge's secrets: a directory (ZENMESH_SECRETS_DIR, or a mounted Kubernetes Secret) with one
/// file per secret name, one active secret per line (several during a rotation; blank lines and
/// lines starting with # ignored). Read on first use and again when the file changes (rotation
/// without a restart); never logged, never sent anywhere. The ingester verifies with them, the
/// egress signs with them.
/// </summary>
/// <remarks>
/// Every webhook asks for its secret, so the file is looked at again at most once per
/// <see cref="Recheck"/>: two stat calls per request cost about 6% of the intake's CPU. A rotation
/// therefore takes effect within a second, and an old secret is kept during rotation anyway.
/// </remarks>
public sealed class SecretStore(string? directory, TimeProvider time)
{
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);

    /// <summary>Where the secrets are read from, or null when this process was given none.</summary>
    public string? Directory => directory;

    /// <summary>The active secrets of <paramref name="name"/>, or null when the store lacks it.</summary>
    public IReadOnlyList<string>? Get(string name)
    {
        if (directory is null || name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..")
        {
            return null;
        }
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(name, out var cached) && time.GetElapsedTime(cached.CheckedAt, now) < Recheck)
        {
            return cached.Secrets;
        }
        var path = Path.Combine(directory, name);
        var written = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : default;
        var secrets = written == default ? null
            : cached is not null && cached.Written == written ? cached.Secrets
            : Parse(File.ReadAllText(path));
        _cache[name] = new Entry(written, secrets, now);
        return secrets;
    }

    /// <summary>The active secrets in a secret file's content.</summary>
    public static IReadOnlyList<string> Parse(string content) =>
        [.. content.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];

    private sealed record Entry(DateTime Written, IReadOnlyList<string>? Secrets, long CheckedAt);
}
