namespace ZenMesh.Ingester.Policies;

/// <summary>A flow's event-type filter: globs where '*' stands for any run of characters; "*" alone also takes events with no type.</summary>
public sealed class EventTypeGlob(IReadOnlyList<string> patterns)
{
    public bool Matches(string? eventType)
    {
        foreach (var pattern in patterns)
        {
            if (pattern == "*" || (eventType is not null && Match(pattern, eventType)))
            {
                return true;
            }
        }
        return false;
    }

    // Greedy wildcard matching with one backtrack point: linear enough for type names, no regex per request.
    private static bool Match(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == text[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }
        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }
        return p == pattern.Length;
    }
}
