using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using ZenMesh.XdsServer.Auth;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Sources;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Api;

/// <summary>
/// GitOps: POST /api/v1/apply takes a bundle {edges: {name: spec}, endpoints: {...}, targets: {...},
/// flows: {...}} in YAML or JSON, applies it as one change (idempotent), optionally prunes what it does
/// not mention, and answers with what changed. And GET /api/v1/status: each edge as its Envoy sees it.
/// </summary>
public static class ApplyEndpoints
{
    public static void MapApplyAndStatus(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/v1/apply", ApplyAsync).RequireAuthorization(AccessPolicies.Editor);
        app.MapGet("/api/v1/status", (Edges.EdgeStatus status, HttpContext http) =>
            Results.Json(new { edges = status.For(Caller.Of(http).Tenant) })
        ).RequireAuthorization(AccessPolicies.Viewer);
    }

    /// <summary>The largest bundle accepted: thousands of resources, far from what would strain the server.</summary>
    public const long MaxBundleBytes = 4 << 20;

    private static async Task<IResult> ApplyAsync(bool? prune, bool? dryRun, DesiredStateStore store, HttpContext http)
    {
        string text;
        try
        {
            text = await RequestBody.ReadTextAsync(http, MaxBundleBytes);
        }
        catch (RequestBody.TooLargeException)
        {
            return Problems.Of(413, "Bundle too large", $"The bundle is larger than {MaxBundleBytes >> 20} MiB. Split it (apply is idempotent; --prune only with the whole set).");
        }
        JsonNode? root;
        try
        {
            var json = (http.Request.ContentType ?? "").Contains("json", StringComparison.OrdinalIgnoreCase) || text.TrimStart().StartsWith('{');
            root = json ? JsonNode.Parse(text) : YamlToJson.Convert(text, out _);
        }
        catch (YamlException e)
        {
            return Problems.Of(400, "Malformed bundle", $"The bundle is neither valid JSON nor valid YAML (line {e.Start.Line}, column {e.Start.Column}): {e.Message}");
        }
        catch (JsonException e)
        {
            return Problems.Of(400, "Malformed bundle", $"The bundle is neither valid JSON nor valid YAML: {e.Message}");
        }
        if (root is not JsonObject bundle)
        {
            return Problems.Of(400, "Malformed bundle", "The bundle must be an object with any of edges, endpoints, targets, flows, each a map of name to spec, e.g. {\"edges\": {\"local\": {\"mode\": \"vm\"}}}.");
        }
        var problems = new List<Problem>();
        var resources = new List<(ResourceKind Kind, string Name, object Spec)>();
        foreach (var (key, value) in bundle)
        {
            if (!ResourceKinds.TryParsePlural(key, out var kind))
            {
                problems.Add(new Problem("bundle", key, "is not a kind; use edges, endpoints, targets or flows."));
                continue;
            }
            if (value is not JsonObject byName)
            {
                problems.Add(new Problem("bundle", key, "must be a map of name to spec."));
                continue;
            }
            foreach (var (name, specJson) in byName)
            {
                var where = $"{kind.Plural()}/{name}";
                if (!DesiredStateValidator.IsValidName(name))
                {
                    problems.Add(new Problem(where, "name", $"use {DesiredStateValidator.NameRule}."));
                    continue;
                }
                try
                {
                    var spec = (specJson ?? new JsonObject()).Deserialize(FlowApiJson.SpecType(kind), FlowApiJson.Options)!;
                    resources.Add((kind, name, spec));
                }
                catch (JsonException e)
                {
                    problems.Add(new Problem(where, (e.Path ?? "$").TrimStart('$').TrimStart('.'), (e.InnerException?.Message ?? e.Message.Split(" Path:")[0]).TrimEnd('.') + "."));
                }
            }
        }
        if (problems.Count > 0)
        {
            return Problems.Of(400, "Malformed bundle", "Nothing was applied. Fix every problem listed.", problems);
        }
        var tenant = Caller.Of(http).Tenant;
        var result = await store.ChangeAsync(state =>
        {
            var next = state;
            if (prune == true)
            {
                foreach (var kind in Enum.GetValues<ResourceKind>())
                {
                    foreach (var (name, _) in state.List(kind, tenant).Where(e => !resources.Any(r => r.Kind == kind && r.Name == e.Name)))
                    {
                        next = next.Without(kind, tenant, name);
                    }
                }
            }
            foreach (var (kind, name, spec) in resources)
            {
                next = next.With(kind, tenant, name, spec);
            }
            return next;
        }, Caller.Of(http).TokenId, dryRun == true);
        if (!result.Applied)
        {
            return Problems.Of(422, "Invalid desired state", "The bundle was refused; nothing was changed. Fix every problem listed.", result.Problems);
        }
        return Results.Json(new
        {
            dryRun = dryRun == true,
            changes = result.Changes.Select(c => new { kind = c.Kind.Plural(), name = c.Name, action = c.Action.ToString().ToLowerInvariant() }),
        });
    }
}
