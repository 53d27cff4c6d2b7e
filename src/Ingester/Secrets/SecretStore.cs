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
public sealed class SecretStore(IOptions<IngesterOptions> options)
{
    private readonly ConcurrentDictionary<string, (DateTime Written, IReadOnlyList<string> Secrets)> _cache = new(StringComparer.Ordinal);

    /// <summary>The active secrets of <paramref name="name"/>, or null when the store lacks it.</summary>
    public IReadOnlyList<string>? Get(string name)
    {
        if (options.Value.SecretsDir is not { } dir || name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name is "." or "..")
        {
            return null;
        }
        var path = Path.Combine(dir, name);
        var written = File.Exists(path) ? File.GetLastWriteTimeUtc(path) : default;
        if (written == default)
        {
            return null;
        }
        if (_cache.TryGetValue(name, out var cached) && cached.Written == written)
        {
            return cached.Secrets;
        }
        var secrets = Verifiers.SecretsOf(File.ReadAllText(path));
        _cache[name] = (written, secrets);
        return secrets;
    }
}
