namespace ZenMesh.Ingester.Verification;

/// <summary>What verification sees of a webhook: its headers (case-insensitive) and its raw body, byte for byte.</summary>
public sealed record WebhookRequest(IReadOnlyDictionary<string, string> Headers, ReadOnlyMemory<byte> Body)
{
    public static WebhookRequest Of(IEnumerable<KeyValuePair<string, string>> headers, ReadOnlyMemory<byte> body)
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            byName[name] = value;
        }
        return new(byName, body);
    }

    public string? Header(string name) => Headers.TryGetValue(name, out var value) && value.Length > 0 ? value : null;
}
