using System.Text.Json;

namespace ZenMesh.Flows;

/// <summary>
/// Where a flow's ordering key comes from, when the flow asks for strict order: "*" (the whole flow
/// is one sequence), "/a/b" (a JSON pointer into the event's body, RFC 6901) or "header:Name" (a
/// header the webhook arrived with). Deliveries with the same key go out one at a time, oldest
/// first; a failing one holds back only later ones with its key, until it is delivered or dead.
/// </summary>
public sealed record OrderingKey
{
    public const string WholeFlow = "*";
    public const string HeaderPrefix = "header:";

    private OrderingKey(string spec, string? pointer, string? header)
    {
        Spec = spec;
        _segments = pointer is null ? null : [.. pointer.Split('/').Skip(1).Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];
        _header = header;
    }

    private readonly string[]? _segments;
    private readonly string? _header;

    public string Spec { get; }

    /// <summary>The key for a flow's setting; null when <paramref name="spec"/> is empty (no ordering) or not a key, with <paramref name="problem"/> saying why.</summary>
    public static OrderingKey? Parse(string? spec, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(spec))
        {
            return null;
        }
        if (spec == WholeFlow)
        {
            return new OrderingKey(spec, null, null);
        }
        if (spec.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase))
        {
            var header = spec[HeaderPrefix.Length..];
            if (header.Length == 0 || header.Any(c => c <= ' ' || c >= 127 || c == ':'))
            {
                problem = $"'{spec}' does not name a header; write header:<name>, e.g. header:X-Shopify-Order-Id.";
                return null;
            }
            return new OrderingKey(spec, null, header);
        }
        if (spec.StartsWith('/'))
        {
            if (spec.Split('/').Skip(1).Any(s => s.Replace("~0", "", StringComparison.Ordinal).Replace("~1", "", StringComparison.Ordinal).Contains('~', StringComparison.Ordinal)))
            {
                problem = $"'{spec}' is not a JSON pointer: '~' must be written ~0 and '/' inside a name ~1.";
                return null;
            }
            return new OrderingKey(spec, spec, null);
        }
        problem = $"'{spec}' is not an ordering key; use \"*\" (the whole flow in order), a JSON pointer into the body such as /data/object/customer, or header:<name>.";
        return null;
    }

    /// <summary>
    /// The key of one event. A body that is not JSON, a pointer that finds nothing or a missing header
    /// give the empty key: such events keep their order among themselves rather than going unordered.
    /// </summary>
    public string Of(IReadOnlyDictionary<string, string> headers, ReadOnlyMemory<byte> body)
    {
        if (_header is not null)
        {
            foreach (var (name, value) in headers)
            {
                if (string.Equals(name, _header, StringComparison.OrdinalIgnoreCase))
                {
                    return value;
                }
            }
            return "";
        }
        if (_segments is null)
        {
            return "";
        }
        try
        {
            using var document = JsonDocument.Parse(body);
            var at = document.RootElement;
            foreach (var segment in _segments)
            {
                if (at.ValueKind == JsonValueKind.Object && at.TryGetProperty(segment, out var child))
                {
                    at = child;
                }
                else if (at.ValueKind == JsonValueKind.Array && int.TryParse(segment, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i < at.GetArrayLength())
                {
                    at = at[i];
                }
                else
                {
                    return "";
                }
            }
            return at.ValueKind switch
            {
                JsonValueKind.String => at.GetString()!,
                JsonValueKind.Null => "",
                _ => at.GetRawText(),
            };
        }
        catch (JsonException)
        {
            return "";
        }
    }
}
