using ZenMesh.Hosting;
using ZenMesh.Xds;
using System.Text.RegularExpressions;

namespace ZenMesh.XdsServer.Model;

/// <summary>
/// Checks desired state as a whole and reports every problem at once, each naming the resource,
/// the field and the fix. Invalid state is never stored, compiled or pushed.
/// </summary>
public static partial class DesiredStateValidator
{
    public static IReadOnlyList<Problem> Validate(DesiredState state) => Validate(state, null);

    /// <summary>
    /// Validates what a change can break, given that the state before it was valid (stored state always
    /// is): the changed resources, the referrers of deleted ones, and the endpoints sharing an edge
    /// with a changed endpoint (paths must stay unique). Same problems as a full validation, at the cost
    /// of the change rather than of the whole mesh.
    /// </summary>
    public static IReadOnlyList<Problem> ValidateChange(DesiredState after, IEnumerable<(ResourceKind Kind, string Tenant, string Name, bool Deleted)> changes)
    {
        var scope = new HashSet<(ResourceKind, string)>();
        foreach (var (kind, tenant, name, deleted) in changes)
        {
            var key = DesiredState.Key(tenant, name);
            if (!deleted)
            {
                scope.Add((kind, key));
            }
            switch (kind)
            {
                case ResourceKind.Edge:
                    scope.UnionWith(after.List(ResourceKind.Endpoint, tenant).Where(e => ((Endpoint)e.Spec).Edge == name).Select(e => (ResourceKind.Endpoint, DesiredState.Key(tenant, e.Name))));
                    scope.UnionWith(after.List(ResourceKind.Target, tenant).Where(t => ((Target)t.Spec).Edge == name).Select(t => (ResourceKind.Target, DesiredState.Key(tenant, t.Name))));
                    break;
                case ResourceKind.Endpoint:
                    scope.UnionWith(after.List(ResourceKind.Flow, tenant).Where(f => ((Flow)f.Spec).Endpoint == name).Select(f => (ResourceKind.Flow, DesiredState.Key(tenant, f.Name))));
                    if (after.Endpoints.GetValueOrDefault(key) is { } changed)
                    {
                        scope.UnionWith(after.List(ResourceKind.Endpoint, tenant).Where(e => ((Endpoint)e.Spec).Edge == changed.Edge).Select(e => (ResourceKind.Endpoint, DesiredState.Key(tenant, e.Name))));
                    }
                    break;
                case ResourceKind.Target:
                    scope.UnionWith(after.List(ResourceKind.Flow, tenant).Where(f => ((Flow)f.Spec).Target == name).Select(f => (ResourceKind.Flow, DesiredState.Key(tenant, f.Name))));
                    break;
            }
        }
        return Validate(after, scope);
    }

    private static IEnumerable<KeyValuePair<string, T>> Scoped<T>(System.Collections.Immutable.ImmutableSortedDictionary<string, T> all, ResourceKind kind, HashSet<(ResourceKind, string)>? scope) =>
        scope is null ? all : scope.Where(s => s.Item1 == kind && all.ContainsKey(s.Item2)).Select(s => KeyValuePair.Create(s.Item2, all[s.Item2])).OrderBy(e => e.Key, StringComparer.Ordinal);

    private static List<Problem> Validate(DesiredState state, HashSet<(ResourceKind, string)>? scope)
    {
        var problems = new List<Problem>();
        foreach (var (key, edge) in Scoped(state.Edges, ResourceKind.Edge, scope))
        {
            var where = Where(ResourceKind.Edge, key, problems);
            if (edge.Mode is not ("vm" or "kubernetes"))
            {
                problems.Add(new(where, "mode", $"is '{edge.Mode}'; use \"vm\" or \"kubernetes\"."));
            }
            if (!HostPort().IsMatch(edge.IngesterAddress))
            {
                problems.Add(new(where, "ingesterAddress", $"is '{edge.IngesterAddress}'; use host:port, e.g. \"127.0.0.1:8081\"."));
            }
            if (!System.Net.IPAddress.TryParse(edge.EgressListenerAddress, out _))
            {
                problems.Add(new(where, "egressListenerAddress", $"is '{edge.EgressListenerAddress}'; use an IP address Envoy can bind, \"127.0.0.1\" (the default) or \"0.0.0.0\"."));
            }
        }
        var paths = new Dictionary<(string Tenant, string Edge, string Path), string>();
        foreach (var (key, endpoint) in Scoped(state.Endpoints, ResourceKind.Endpoint, scope))
        {
            var where = Where(ResourceKind.Endpoint, key, problems);
            var (tenant, name) = DesiredState.Split(key);
            RequireEdge(state, tenant, endpoint.Edge, where, problems);
            if (!Endpoint.Providers.Contains(endpoint.Provider))
            {
                problems.Add(new(where, "provider", $"is '{endpoint.Provider}'; use one of {string.Join(", ", Endpoint.Providers)}."));
            }
            if (endpoint.Provider != "none" && string.IsNullOrEmpty(endpoint.SecretRef))
            {
                problems.Add(new(where, "secretRef", $"is missing; provider '{endpoint.Provider}' verifies signatures, so name the edge secret that holds its key (or use provider \"none\")."));
            }
            var path = EndpointPath(tenant, name, endpoint);
            if (!path.StartsWith('/') || path.Contains(' ', StringComparison.Ordinal))
            {
                problems.Add(new(where, "path", $"is '{path}'; it must start with '/' and contain no spaces."));
            }
            else if (paths.TryGetValue((tenant, endpoint.Edge, path), out var other))
            {
                problems.Add(new(where, "path", $"'{path}' is already used by endpoints/{other} on edge '{endpoint.Edge}'; give one of them another path."));
            }
            else
            {
                paths[(tenant, endpoint.Edge, path)] = name;
            }
            if (endpoint.MaxBodyBytes is < 1 or > 64 * 1024 * 1024)
            {
                problems.Add(new(where, "maxBodyBytes", $"is {endpoint.MaxBodyBytes}; use 1 to 67108864 (64 MiB)."));
            }
            CheckRateLimit(endpoint.RateLimit, where, problems);
            CheckHmac(endpoint, where, problems);
        }
        foreach (var (key, target) in Scoped(state.Targets, ResourceKind.Target, scope))
        {
            var where = Where(ResourceKind.Target, key, problems);
            RequireEdge(state, DesiredState.Split(key).Tenant, target.Edge, where, problems);
            if (!Uri.TryCreate(target.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.Host.Length == 0)
            {
                problems.Add(new(where, "url", $"is '{target.Url}'; use an absolute http or https URL, e.g. \"http://127.0.0.1:9100/hooks\"."));
            }
            else if (target.Tls is not null && url.Scheme != "https")
            {
                problems.Add(new(where, "tls", "is set but the url is http; use an https url, or remove tls."));
            }
            else if (target.Tls is { InsecureSkipVerify: true, CaSecretRef: not null })
            {
                problems.Add(new(where, "tls.insecureSkipVerify", "is true beside a caSecretRef; verify against the CA, or skip verification, not both."));
            }
            else if (ZenMesh.Flows.TargetAddressRules.Check(url, target.AllowLoopback) is { } unsafeAddress)
            {
                problems.Add(new(where, "url", unsafeAddress == "loopback"
                    ? $"is '{target.Url}', on the edge's own host (loopback); set \"allowLoopback\": true if the target really runs beside the edge."
                    : $"is '{target.Url}', {unsafeAddress}"));
            }
            Positive(target.ConnectTimeout, "connectTimeout", where, problems, TimeSpan.FromMinutes(1));
            if (target.HealthCheck is { } hc)
            {
                if (url is not null && url.Host.Length > 0 && !System.Net.IPAddress.TryParse(url.Host.Trim('[', ']'), out _))
                {
                    problems.Add(new(where, "healthCheck", $"is set, but the url names a host ('{url.Host}') rather than an address: Envoy connects to the address the egress resolved and checked for each delivery, so a health check could not steer it. Use an IP address in the url to health-check the target, or remove healthCheck (the egress tries the name's other addresses when one fails)."));
                }
                if (!hc.Path.StartsWith('/'))
                {
                    problems.Add(new(where, "healthCheck.path", $"is '{hc.Path}'; it must start with '/'."));
                }
                Positive(hc.Interval, "healthCheck.interval", where, problems, TimeSpan.FromHours(1));
                Positive(hc.Timeout, "healthCheck.timeout", where, problems, hc.Interval);
                AtLeast(hc.UnhealthyThreshold, 1, "healthCheck.unhealthyThreshold", where, problems);
                AtLeast(hc.HealthyThreshold, 1, "healthCheck.healthyThreshold", where, problems);
            }
        }
        foreach (var (key, flow) in Scoped(state.Flows, ResourceKind.Flow, scope))
        {
            var where = Where(ResourceKind.Flow, key, problems);
            var tenant = DesiredState.Split(key).Tenant;
            if (flow.Endpoint.Length == 0 || !state.Endpoints.ContainsKey(DesiredState.Key(tenant, flow.Endpoint)))
            {
                problems.Add(new(where, "endpoint", flow.Endpoint.Length == 0 ? "is missing; name the endpoint this flow takes events from." : $"names endpoints/{flow.Endpoint}, which does not exist; create it first or fix the name."));
            }
            if (flow.Target.Length == 0 || !state.Targets.ContainsKey(DesiredState.Key(tenant, flow.Target)))
            {
                problems.Add(new(where, "target", flow.Target.Length == 0 ? "is missing; name the target this flow delivers to." : $"names targets/{flow.Target}, which does not exist; create it first or fix the name."));
            }
            if (flow.EventTypes.Count == 0 || flow.EventTypes.Any(string.IsNullOrWhiteSpace))
            {
                problems.Add(new(where, "eventTypes", "must list at least one non-empty glob; use [\"*\"] for every event."));
            }
            Positive(flow.Timeout, "timeout", where, problems, TimeSpan.FromMinutes(15));
            if (flow.Retry.Retries is < 0 or > 10)
            {
                problems.Add(new(where, "retry.retries", $"is {flow.Retry.Retries}; use 0 to 10 (the egress redelivers later on its own schedule)."));
            }
            if (flow.Retry.PerTryTimeout is { } perTry)
            {
                Positive(perTry, "retry.perTryTimeout", where, problems, flow.Timeout);
            }
            foreach (var condition in flow.Retry.RetryOn.Where(c => !RetryPolicy.Conditions.Contains(c)))
            {
                problems.Add(new(where, "retry.retryOn", $"has '{condition}'; use any of {string.Join(", ", RetryPolicy.Conditions)}."));
            }
            Positive(flow.Retry.BackoffBase, "retry.backoffBase", where, problems, flow.Retry.BackoffMax);
            AtLeast(flow.MaxInFlight, 1, "maxInFlight", where, problems);
            AtLeast(flow.MaxPending, 0, "maxPending", where, problems);
            CheckRateLimit(flow.RateLimit, where, problems, "rateLimit");
            AtLeast(flow.OutlierDetection.Consecutive5xx, 1, "outlierDetection.consecutive5xx", where, problems);
            if (flow.OutlierDetection.MaxEjectionPercent is < 0 or > 100)
            {
                problems.Add(new(where, "outlierDetection.maxEjectionPercent", $"is {flow.OutlierDetection.MaxEjectionPercent}; use 0 to 100."));
            }
            if (flow.Redelivery.Delays.Any(d => d <= TimeSpan.Zero))
            {
                problems.Add(new(where, "redelivery.delays", "must all be positive durations, e.g. [\"5s\", \"30s\", \"2m\"]."));
            }
            if (flow.Redelivery.Horizon < flow.Redelivery.Delays.Aggregate(TimeSpan.Zero, (a, b) => a + b))
            {
                problems.Add(new(where, "redelivery.horizon", $"is {DurationText.Format(flow.Redelivery.Horizon)}, shorter than the delays it must cover; make it at least their sum."));
            }
            if (flow.Signing is { SecretRef.Length: 0 })
            {
                problems.Add(new(where, "signing.secretRef", "is empty; name the edge secret to sign with, or remove signing."));
            }
            if (ZenMesh.Flows.OrderingKey.Parse(flow.OrderingKey, out var orderingProblem) is null && orderingProblem is not null)
            {
                problems.Add(new(where, "orderingKey", orderingProblem));
            }
        }
        return problems;
    }

    /// <summary>The path an endpoint listens on: its own, or "/hooks/{tenant}/{endpoint}".</summary>
    public static string EndpointPath(string tenant, string name, Endpoint endpoint) => endpoint.Path ?? $"/hooks/{tenant}/{name}";

    public static bool IsValidName(string name) => NamePattern().IsMatch(name);

    public const string NameRule = "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

    private static string Where(ResourceKind kind, string key, List<Problem> problems)
    {
        var (tenant, name) = DesiredState.Split(key);
        var where = $"{kind.Plural()}/{name}";
        if (!IsValidName(name))
        {
            problems.Add(new(where, "name", $"'{name}' is not a valid name; use {NameRule}."));
        }
        if (!IsValidName(tenant))
        {
            problems.Add(new(where, "tenant", $"'{tenant}' is not a valid tenant; use {NameRule}."));
        }
        return where;
    }

    private static void RequireEdge(DesiredState state, string tenant, string edge, string where, List<Problem> problems)
    {
        if (edge.Length == 0)
        {
            problems.Add(new(where, "edge", "is missing; name the edge it lives on, e.g. \"local\"."));
        }
        else if (!state.Edges.ContainsKey(DesiredState.Key(tenant, edge)))
        {
            problems.Add(new(where, "edge", $"names edges/{edge}, which does not exist; create it first (PUT /api/v1/edges/{edge}) or fix the name."));
        }
    }

    private static void CheckRateLimit(RateLimit? limit, string where, List<Problem> problems, string field = "rateLimit")
    {
        if (limit is null)
        {
            return;
        }
        AtLeast(limit.RequestsPerSecond, 1, $"{field}.requestsPerSecond", where, problems);
        if (limit.Burst is { } burst)
        {
            AtLeast(burst, 1, $"{field}.burst", where, problems);
        }
    }

    private static void CheckHmac(Endpoint endpoint, string where, List<Problem> problems)
    {
        if (endpoint.Hmac is not { } hmac)
        {
            return;
        }
        if (endpoint.Provider != "hmac-sha256")
        {
            problems.Add(new(where, "hmac", $"is set, but provider is '{endpoint.Provider}'; it only applies to provider \"hmac-sha256\", so remove it or change the provider."));
            return;
        }
        if (!HeaderName().IsMatch(hmac.Header))
        {
            problems.Add(new(where, "hmac.header", $"is '{hmac.Header}'; use an HTTP header name such as \"X-Signature\"."));
        }
        if (!HmacSignature.Encodings.Contains(hmac.Encoding))
        {
            problems.Add(new(where, "hmac.encoding", $"is '{hmac.Encoding}'; use \"hex\" or \"base64\"."));
        }
    }

    private static void Positive(TimeSpan value, string field, string where, List<Problem> problems, TimeSpan max)
    {
        if (value <= TimeSpan.Zero || value > max)
        {
            problems.Add(new(where, field, $"is {DurationText.Format(value)}; use more than 0s and at most {DurationText.Format(max)}."));
        }
    }

    private static void AtLeast(int value, int min, string field, string where, List<Problem> problems)
    {
        if (value < min)
        {
            problems.Add(new(where, field, $"is {value}; use {min} or more."));
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$")]
    private static partial Regex HostPort();

    // RFC 9110 token characters.
    [GeneratedRegex(@"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")]
    private static partial Regex HeaderName();
}
