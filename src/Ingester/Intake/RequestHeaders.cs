using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace ZenMesh.Ingester.Intake;

/// <summary>
/// A request's headers as verification reads them (name to value, case-insensitive), straight over
/// Kestrel's: a header with one value is the string Kestrel already made, so nothing is copied per
/// request. Repeated headers read as their values joined by commas, as HTTP defines.
/// </summary>
internal sealed class RequestHeaders(IHeaderDictionary headers) : IReadOnlyDictionary<string, string>
{
    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"no header '{key}'");

    public IEnumerable<string> Keys => headers.Keys;

    public IEnumerable<string> Values => headers.Values.Select(v => v.ToString());

    public int Count => headers.Count;

    public bool ContainsKey(string key) => headers.ContainsKey(key);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out string value)
    {
        if (headers.TryGetValue(key, out var values))
        {
            value = values.ToString();
            return true;
        }
        value = null;
        return false;
    }

    public IEnumerator<KeyValuePair<string, string>> GetEnumerator()
    {
        foreach (var (name, values) in headers)
        {
            yield return new(name, values.ToString());
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
