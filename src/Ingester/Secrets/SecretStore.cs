using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.Ingester.Secrets;

/// <summary>
/// The edge's secrets: a directory (ZENMESH_SECRETS_DIR, or a mounted Kubernetes Secret) with one
/// file per secret name, one active secret per line. Read on first use and again when the file
/// changes (rotation without a restart); never logged, never sent anywhere.
/// </summary>
/// <remarks>
/// Every webhook asks for its secret, so the file is looked at again at most once per
/// <see cref="Recheck"/>: two stat calls per request cost about 6% of the intake's CPU. A rotation
/// therefore takes effect within a second, and an old secret is kept during rotation anyway.
/// </remarks>
public sealed class SecretStore(IOptions<IngesterOptions> options, TimeProvider time)
{
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Entry> _cache = new(StringComparer.Ordinal);

    /// <summary>The active secrets of <paramref name="name"/>, or null when the store lacks it.</summary>
    public IReadOnlyList<string>? Get(string name)
    {
        if (options.Value.SecretsDir is not { } dir || name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..")
        {
            return null;
        }
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(name, out var cached) && time.GetElapsedTime(cached.CheckedAt, now) < Recheck)
        {
            return cached.Secrets;
        }
        var path = Path.Combine(dir, name);
        var written = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : default;
        var secrets = written == default ? null
            : cached is not null && cached.Written == written ? cached.Secrets
            : Verifiers.SecretsOf(File.ReadAllText(path));
        _cache[name] = new Entry(written, secrets, now);
        return secrets;
    }

    private sealed record Entry(DateTime Written, IReadOnlyList<string>? Secrets, long CheckedAt);
}
