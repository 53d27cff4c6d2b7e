using System.Security.Cryptography;
using System.Text;
using ZenMesh.Secrets;

namespace ZenMesh.Hosting;

/// <summary>
/// The bearer token of a data-plane service's own HTTP API (the egress's delivery log and replays,
/// the status of the agent and the ingester beyond loopback): configured, or created on first
/// start in the service's data directory (mode 0600 from creation) and read from there after.
/// </summary>
public sealed class ServiceToken
{
    public const string FileName = "api-token";

    private readonly byte[] _hash;

    private ServiceToken(string value, string whereFrom)
    {
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(value));
        WhereFrom = whereFrom;
    }

    /// <summary>Where an operator finds it, for the 401's explanation (never the value).</summary>
    public string WhereFrom { get; }

    /// <summary>
    /// <paramref name="configured"/> when set (e.g. Egress:ApiToken), else the token in
    /// <paramref name="dataDir"/>/<paramref name="fileName"/>, created with a random value
    /// (<paramref name="prefix"/> and 256 bits) when missing.
    /// </summary>
    public static ServiceToken LoadOrCreate(string? configured, string configKey, string dataDir, string fileName = FileName, string prefix = "zm_svc_")
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return new ServiceToken(configured, $"the value of {configKey}");
        }
        ZenMesh.Data.DirectorySync.CreateDurably(dataDir);
        var file = Path.GetFullPath(Path.Combine(dataDir, fileName));
        if (!File.Exists(file))
        {
            SecretFile.Write(file, prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) + Environment.NewLine);
        }
        return new ServiceToken(File.ReadAllText(file).Trim(), file);
    }

    /// <summary>A configured token must be long and random: what a problem says when it is not, or null.</summary>
    public static string? Weakness(string? configured, string configKey, string fileName = FileName) =>
        configured is { Length: > 0 } value && (value.Length < 32 || value.Distinct().Count() < 10)
            ? $"{configKey} is {value.Length} characters of {value.Distinct().Count()} different ones; it must be long and random: at least 32 characters, e.g. $(openssl rand -hex 32). Or leave it unset, and the first start writes a random one to <data-dir>/{fileName}."
            : null;

    /// <summary>Compares in constant time (hashes of equal length), so a wrong guess learns nothing from the time it took.</summary>
    public bool Matches(string presented) => CryptographicOperations.FixedTimeEquals(_hash, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}
