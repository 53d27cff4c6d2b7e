namespace ZenMesh.Ingester.Policies;

/// <summary>
/// A flow's event-type filter: globs where '*' stands for any run of characters; "*" alone also
/// takes events with no type. Matching is linear in the type's length (the type is the sender's to
/// choose, up to a whole body): each pattern is split at its stars once, and the pieces between
/// are found left to right with Knuth-Morris-Pratt, so no character of the type is looked at more
/// than a bounded number of times, whatever the pattern.
/// </summary>
public sealed class EventTypeGlob
{
    private readonly Pattern[] _patterns;

    public EventTypeGlob(IReadOnlyList<string> patterns) => _patterns = [.. patterns.Select(p => new Pattern(p))];

    public bool Matches(string? eventType)
    {
        foreach (var pattern in _patterns)
        {
            if (pattern.AnyType || (eventType is not null && pattern.Matches(eventType)))
            {
                return true;
            }
        }
        return false;
    }

    private sealed class Pattern
    {
        private readonly string _text;
        private readonly string[] _pieces;
        private readonly int[][] _failure;

        public Pattern(string text)
        {
            _text = text;
            _pieces = text.Split('*');
            _failure = [.. _pieces.Select(Failure)];
        }

        public bool AnyType => _text == "*";

        public bool Matches(string type)
        {
            if (_pieces.Length == 1)
            {
                return string.Equals(_text, type, StringComparison.Ordinal);
            }
            var (first, last) = (_pieces[0], _pieces[^1]);
            if (type.Length < first.Length + last.Length || !type.StartsWith(first, StringComparison.Ordinal) || !type.EndsWith(last, StringComparison.Ordinal))
            {
                return false;
            }
            // The middle pieces, leftmost first, in what lies between the prefix and the suffix:
            // taking each as early as it occurs leaves the most room for the ones after it.
            var at = first.Length;
            var end = type.Length - last.Length;
            for (var i = 1; i < _pieces.Length - 1; i++)
            {
                if (_pieces[i].Length == 0)
                {
                    continue;
                }
                var found = Find(type.AsSpan(at, end - at), _pieces[i], _failure[i]);
                if (found < 0)
                {
                    return false;
                }
                at += found + _pieces[i].Length;
            }
            return true;
        }

        /// <summary>Where <paramref name="piece"/> first occurs in <paramref name="text"/>, or -1: one pass over the text.</summary>
        private static int Find(ReadOnlySpan<char> text, string piece, int[] failure)
        {
            var matched = 0;
            for (var i = 0; i < text.Length; i++)
            {
                while (matched > 0 && text[i] != piece[matched])
                {
                    matched = failure[matched - 1];
                }
                if (text[i] == piece[matched] && ++matched == piece.Length)
                {
                    return i - piece.Length + 1;
                }
            }
            return -1;
        }

        /// <summary>KMP's table: for each prefix of <paramref name="piece"/>, the longest proper prefix that is also its suffix.</summary>
        private static int[] Failure(string piece)
        {
            var failure = new int[piece.Length];
            for (int i = 1, k = 0; i < piece.Length; i++)
            {
                while (k > 0 && piece[i] != piece[k])
                {
                    k = failure[k - 1];
                }
                if (piece[i] == piece[k])
                {
                    k++;
                }
                failure[i] = k;
            }
            return failure;
        }
    }
}
