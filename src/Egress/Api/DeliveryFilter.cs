using System.Globalization;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Storage;

namespace ZenMesh.Egress.Api;

/// <summary>
/// The filter parameters shared by the delivery log and replay: tenant, flow, target (its name or
/// URL, resolved to the flows that deliver to it), state, fault, event, replay, since, until. A bad
/// value gets a problem that names the parameter and what it accepts.
/// </summary>
public static class DeliveryFilter
{
    public const int MostPerPage = 1000;

    public static readonly IReadOnlyList<string> FaultValues = [Faults.Target, Faults.ZenMesh];

    /// <summary>The filter in a query string (with paging when <paramref name="paging"/>), or null with <paramref name="problem"/> saying what was wrong.</summary>
    public static DeliveryQuery? Parse(IQueryCollection q, FlowPolicies policies, bool paging, out string? problem)
    {
        problem = null;
        string? Text(string name) => q.TryGetValue(name, out var v) && v.ToString() is { Length: > 0 } s ? s : null;
        var state = Text("state");
        if (state is not null && !DeliveryStates.All.Contains(state))
        {
            problem = $"state '{state}' is not a delivery state; use one of {string.Join(", ", DeliveryStates.All)}.";
        }
        var fault = Text("fault");
        if (fault is not null && !FaultValues.Contains(fault))
        {
            problem ??= $"fault '{fault}' is not a fault; use {Faults.Target} (the customer's endpoint failed) or {Faults.ZenMesh} (ZenMesh itself failed).";
        }
        IReadOnlyList<string>? flows = null;
        if (Text("target") is { } target)
        {
            flows = [.. policies.All.Where(p => p.Value.Target == target || p.Value.TargetUrl == target).Select(p => p.Key).Order(StringComparer.Ordinal)];
            if (flows.Count == 0)
            {
                problem ??= $"target '{target}' is not the target of any flow at this egress; pass a target name or URL that GET /status lists.";
            }
        }
        var since = Time(Text("since"), "since", ref problem);
        var until = Time(Text("until"), "until", ref problem);
        if (since is { } s && until is { } u && u <= s)
        {
            problem ??= $"until ({u:O}) is not after since ({s:O}); the range is since <= received < until.";
        }
        var limit = 100;
        long after = 0;
        if (paging)
        {
            if (Text("limit") is { } l && (!int.TryParse(l, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MostPerPage))
            {
                problem ??= $"limit '{l}' is not a page size; use 1 to {MostPerPage} (default 100).";
            }
            if (Text("after") is { } a && (!long.TryParse(a, CultureInfo.InvariantCulture, out after) || after < 0))
            {
                problem ??= $"after '{a}' is not a page cursor; pass the 'next' of the previous page.";
            }
        }
        else if (Text("limit") is not null || Text("after") is not null)
        {
            problem ??= "limit and after page the delivery log; a replay takes every delivery that matches, so leave them out (narrow it with since/until instead).";
        }
        if (problem is not null)
        {
            return null;
        }
        return new DeliveryQuery
        {
            Tenant = Text("tenant"), Flow = Text("flow"), Flows = flows, State = state, Fault = fault, EventId = Text("event"), Replay = Text("replay"),
            Since = since, Until = until, Limit = limit, AfterSeq = after,
        };
    }

    private static DateTimeOffset? Time(string? text, string name, ref string? problem)
    {
        if (text is null)
        {
            return null;
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }
        problem ??= $"{name} '{text}' is not a time; use ISO 8601, e.g. 2026-11-23T10:00:00Z.";
        return null;
    }
}
