using System.Text;
using System.Text.Json;

namespace ZenMesh.Egress.Tests.Infrastructure;

/// <summary>
/// What a service writes as JSON logs (its LogOutput), readable while it is still writing: only
/// complete lines are returned. Also linked into Deploy.Tests.
/// </summary>
internal sealed class LogLines : StringWriter
{
    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value)
    {
        lock (this)
        {
            base.Write(value);
        }
    }

    public override void Write(string? value)
    {
        lock (this)
        {
            base.Write(value);
        }
    }

    public override void Write(char[] buffer, int index, int count)
    {
        lock (this)
        {
            base.Write(buffer, index, count);
        }
    }

    public string[] Complete()
    {
        string text;
        lock (this)
        {
            text = ToString();
        }
        return text[..(text.LastIndexOf('\n') + 1)].Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    public List<JsonElement> Parsed() => [.. Complete().Select(l => JsonDocument.Parse(l).RootElement)];
}
