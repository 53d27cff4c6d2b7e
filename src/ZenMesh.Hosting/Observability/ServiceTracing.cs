using System.Diagnostics;

namespace ZenMesh.Observability;

/// <summary>
/// A service's spans ("ZenMesh.Ingester", ...). A span is recorded only when OpenTelemetry listens;
/// <see cref="StartOrCarry"/> still gives the work a W3C trace context when it does not, so the
/// trace id reaches logs and the next hop either way.
/// </summary>
public sealed class ServiceTracing(string service) : IDisposable
{
    public ActivitySource Source { get; } = new($"ZenMesh.{char.ToUpperInvariant(service[0])}{service[1..]}");

    /// <summary>
    /// A span named <paramref name="name"/>, child of <paramref name="traceParent"/> (a stored W3C
    /// traceparent) or, without one, of the current activity; becomes <see cref="Activity.Current"/>.
    /// </summary>
    public Activity StartOrCarry(string name, ActivityKind kind, string? traceParent, string? traceState = null)
    {
        var parent = traceParent is not null && ActivityContext.TryParse(traceParent, traceState, out var stored) ? stored : (ActivityContext?)null;
        var activity = parent is { } p ? Source.StartActivity(name, kind, p) : Source.StartActivity(name, kind);
        if (activity is not null)
        {
            return activity;
        }
        // Nobody records spans: an unrecorded activity still carries the trace on.
        var carried = new Activity(name);
        carried.SetIdFormat(ActivityIdFormat.W3C);
        if (parent is { } q)
        {
            carried.SetParentId(q.TraceId, q.SpanId, q.TraceFlags);
        }
        return carried.Start();
    }

    public void Dispose() => Source.Dispose();
}
