using System.Globalization;
using System.Text;

namespace ZenMesh.Metrics;

/// <summary>
/// Prometheus text exposition (format 0.0.4), written by hand: each service's /metrics is a few
/// gauges, counters and one or two histograms, which does not earn an exporter dependency.
/// </summary>
public sealed class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();
    private readonly string _commonLabels;

    /// <param name="commonLabels">Labels on every sample, e.g. ("edge", "default/local").</param>
    public PrometheusText(params (string Name, string Value)[] commonLabels) => _commonLabels = Labels(commonLabels);

    public PrometheusText Gauge(string name, string help, double value) => Family(name, help, "gauge").Sample(name, "", value);

    public PrometheusText Counter(string name, string help, double value) => Family(name, help, "counter").Sample(name, "", value);

    /// <summary>One family, one sample per label value (e.g. rejections by reason).</summary>
    public PrometheusText Counter(string name, string help, string label, IEnumerable<KeyValuePair<string, long>> values)
    {
        Family(name, help, "counter");
        foreach (var (key, value) in values)
        {
            Sample(name, Labels([(label, key)]), value);
        }
        return this;
    }

    /// <summary>One family of <paramref name="type"/> ("counter" or "gauge"), one sample per set of labels (e.g. attempts by flow and outcome).</summary>
    public PrometheusText Family(string name, string help, string type, IEnumerable<((string Name, string Value)[] Labels, double Value)> samples)
    {
        Family(name, help, type);
        foreach (var (labels, value) in samples)
        {
            Sample(name, Labels(labels), value);
        }
        return this;
    }

    public PrometheusText Histogram(string name, string help, LatencyHistogram histogram)
    {
        Family(name, help, "histogram");
        var (buckets, count, sum) = histogram.Read();
        long cumulative = 0;
        for (var i = 0; i < buckets.Length; i++)
        {
            cumulative += buckets[i];
            var le = i < LatencyHistogram.Bounds.Length ? LatencyHistogram.Bounds[i].ToString("0.####", CultureInfo.InvariantCulture) : "+Inf";
            Sample(name + "_bucket", Labels([("le", le)]), cumulative);
        }
        Sample(name + "_sum", "", sum);
        return Sample(name + "_count", "", count);
    }

    public override string ToString() => _text.ToString();

    private PrometheusText Family(string name, string help, string type)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    private PrometheusText Sample(string name, string labels, double value)
    {
        var all = (_commonLabels, labels) switch
        {
            ("", "") => "",
            (var c, "") => c,
            ("", var l) => l,
            var (c, l) => c[..^1] + "," + l[1..],
        };
        _text.Append(name).Append(all).Append(' ').Append(value.ToString("0.######", CultureInfo.InvariantCulture)).Append('\n');
        return this;
    }

    private static string Labels((string Name, string Value)[] labels) => labels.Length == 0 ? "" :
        "{" + string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"")) + "}";
}
