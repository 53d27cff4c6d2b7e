using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace ZenMesh.Hosting;

/// <summary>
/// Durations as people write them in config: "500ms", "2s", "5m", "1h30m", "72h". Read and written
/// as such in JSON, so what an operator PUTs is what GET shows.
/// </summary>
public static partial class DurationText
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text) || !Whole().IsMatch(text))
        {
            return false;
        }
        foreach (Match part in Part().Matches(text))
        {
            var n = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            value += part.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(n),
                "s" => TimeSpan.FromSeconds(n),
                "m" => TimeSpan.FromMinutes(n),
                "h" => TimeSpan.FromHours(n),
                _ => TimeSpan.FromDays(n),
            };
        }
        return true;
    }

    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }
        if (value < TimeSpan.Zero)
        {
            return "-" + Format(value.Negate());
        }
        var sb = new StringBuilder();
        if (value.Days > 0 || value.Hours > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{(int)value.TotalHours}h");
        }
        if (value.Minutes > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{value.Minutes}m");
        }
        if (value.Seconds > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{value.Seconds}s");
        }
        if (value.Milliseconds > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{value.Milliseconds}ms");
        }
        return sb.ToString();
    }

    [GeneratedRegex(@"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$")]
    private static partial Regex Whole();

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")]
    private static partial Regex Part();
}

/// <summary>JSON form of a <see cref="TimeSpan"/> in the Flow API: "2s", "1h30m".</summary>
public sealed class DurationTextConverter : JsonConverter<TimeSpan>
{
    public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return DurationText.TryParse(text, out var value)
            ? value
            : throw new JsonException($"'{text ?? reader.TokenType.ToString()}' is not a duration; write it like \"500ms\", \"2s\", \"5m\" or \"1h30m\".");
    }

    public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options) => writer.WriteStringValue(DurationText.Format(value));
}
