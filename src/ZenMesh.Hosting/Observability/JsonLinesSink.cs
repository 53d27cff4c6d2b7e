using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace ZenMesh.Observability;

/// <summary>One compact JSON object per line (CLEF, with the message rendered) to a writer; lines from concurrent threads never interleave.</summary>
internal sealed class JsonLinesSink(TextWriter output) : ILogEventSink
{
    private readonly RenderedCompactJsonFormatter _formatter = new();
    private readonly Lock _lock = new();

    public void Emit(LogEvent logEvent)
    {
        lock (_lock)
        {
            _formatter.Format(logEvent, output);
            output.Flush();
        }
    }
}
