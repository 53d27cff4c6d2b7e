using System.Text;
using System.Text.RegularExpressions;
using ZenMesh.Ingester.Policies;

namespace ZenMesh.Ingester.Tests.Policies;

/// <summary>
/// Event-type globs against types a sender chooses: the same answers as a regular expression of the
/// glob on random patterns and types, and a megabyte type against a long piece between stars
/// answered at once (a backtracking matcher takes billions of steps there).
/// </summary>
public sealed class EventTypeGlobTests
{
    [Fact]
    public void RandomGlobsAndTypes_MatchAsTheirRegularExpressionDoes()
    {
        var random = new Random(7);
        for (var i = 0; i < 20_000; i++)
        {
            var pattern = Text(random, "ab*.", random.Next(0, 8));
            var type = Text(random, "ab.", random.Next(0, 12));
            var regex = "^" + string.Concat(pattern.Select(c => c == '*' ? ".*" : Regex.Escape(c.ToString()))) + "$";
            var expected = pattern == "*" || Regex.IsMatch(type, regex, RegexOptions.Singleline);

            Assert.True(expected == new EventTypeGlob([pattern]).Matches(type), $"'{pattern}' against '{type}': expected {expected}");
        }
    }

    [Fact]
    public async Task AMegabyteType_AgainstALongPieceBetweenStars_IsAnsweredInLinearTime()
    {
        var piece = new string('a', 4000) + "b";
        var glob = new EventTypeGlob(["*" + piece + "*", "x*" + piece]);
        var type = new string('a', 1 << 20);

        // Linear: a few million steps. A backtracking matcher tries the piece again at every
        // position, about four billion steps here, minutes; the bound only has to tell those apart.
        var matched = await Task.Run(() => glob.Matches(type)).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(matched);
        Assert.True(glob.Matches(type + "b"));
    }

    private static string Text(Random random, string alphabet, int length) =>
        new([.. Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)])]);
}
