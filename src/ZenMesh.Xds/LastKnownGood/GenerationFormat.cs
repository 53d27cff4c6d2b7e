using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

using ZenMesh.Xds.Cache;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Xds.LastKnownGood;

/// <summary>
/// The file of one generation: a header line "zenmesh-lkg 1 sha256=&lt;hex&gt; bytes=&lt;n&gt;", then a JSON
/// payload (snapshot version, time of receipt, every resource as its packed Any). The checksum
/// covers the payload, so a torn or altered file is detected instead of served.
/// </summary>
public static class GenerationFormat
{
    private const string Magic = "zenmesh-lkg 1";

    private sealed record Payload(string Version, DateTimeOffset ReceivedAt, string Source, List<StoredResource> Resources);

    private sealed record StoredResource(string Name, string TypeUrl, string Any, double? TtlSeconds);

    public static byte[] Write(Snapshot snapshot, DateTimeOffset receivedAt)
    {
        var resources = snapshot.Types.Values.SelectMany(t => t.Resources.Values)
            .Select(r => new StoredResource(r.Name, r.TypeUrl, Convert.ToBase64String(r.Body.ToByteArray()), r.Ttl?.TotalSeconds))
            .ToList();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Payload(snapshot.Version, receivedAt, snapshot.Source, resources));
        var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Magic} sha256={Convert.ToHexStringLower(SHA256.HashData(payload))} bytes={payload.Length}\n"));
        return [.. header, .. payload];
    }

    /// <summary>The snapshot and its time of receipt; InvalidDataException saying what is wrong otherwise.</summary>
    public static (Snapshot Snapshot, DateTimeOffset ReceivedAt) Read(byte[] file)
    {
        var newline = Array.IndexOf(file, (byte)'\n');
        if (newline < 0 || !Encoding.ASCII.GetString(file, 0, newline).StartsWith(Magic + " ", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"it does not start with '{Magic}'");
        }
        var fields = Encoding.ASCII.GetString(file, 0, newline).Split(' ').Skip(2).Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1]);
        var payload = file.AsSpan(newline + 1);
        if (!fields.TryGetValue("bytes", out var bytes) || bytes != payload.Length.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"the header says {fields.GetValueOrDefault("bytes", "?")} bytes of payload but the file holds {payload.Length} (truncated or appended to)");
        }
        var actual = Convert.ToHexStringLower(SHA256.HashData(payload));
        if (!fields.TryGetValue("sha256", out var expected) || expected != actual)
        {
            throw new InvalidDataException($"the payload's SHA-256 is {actual}, not the {fields.GetValueOrDefault("sha256", "?")} in its header (altered or corrupted)");
        }
        var stored = JsonSerializer.Deserialize<Payload>(payload) ?? throw new InvalidDataException("the payload is empty");
        var resources = stored.Resources.Select(r => XdsResource.FromAny(r.Name, Any.Parser.ParseFrom(Convert.FromBase64String(r.Any)), r.TtlSeconds is { } s ? TimeSpan.FromSeconds(s) : null));
        var snapshot = Snapshot.Create(resources, stored.Source);
        if (snapshot.Version != stored.Version)
        {
            throw new InvalidDataException($"its resources make version {snapshot.Version}, not the {stored.Version} it was saved as");
        }
        return (snapshot, stored.ReceivedAt);
    }
}
