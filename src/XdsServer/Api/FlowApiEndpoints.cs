using System.Text.Json;
using System.Text.Json.Nodes;
using ZenMesh.XdsServer.Compiler;
using ZenMesh.XdsServer.Auth;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Api;

/// <summary>
/// The Flow API: PUT/GET/DELETE of edges, endpoints, targets and flows, with ETag/If-Match and dry runs.
/// Every resource belongs to the tenant of the caller's API token.
/// </summary>
public static class FlowApiEndpoints
{
    public static void MapFlowApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapGet("/{kind}", (string kind, DesiredStateStore store, HttpContext http) =>
            Kind(kind, out var k) is { } bad ? bad : Results.Json(new
            {
                items = store.Current.List(k, Caller.Of(http).Tenant).Select(e => new { name = e.Name, etag = FlowApiJson.ETag(k, e.Spec), spec = Spec(k, e.Spec) }),
            })).RequireAuthorization(AccessPolicies.Viewer);
        api.MapGet("/{kind}/{name}", (string kind, string name, DesiredStateStore store, HttpContext http) =>
        {
            if (Kind(kind, out var k) is { } bad)
            {
                return bad;
            }
            if (store.Current.Find(k, Caller.Of(http).Tenant, name) is not { } spec)
            {
                return NotFound(http, k, name);
            }
            http.Response.Headers.ETag = FlowApiJson.ETag(k, spec);
            return Results.Json(Spec(k, spec));
        }).RequireAuthorization(AccessPolicies.Viewer);
        api.MapPut("/{kind}/{name}", PutAsync).RequireAuthorization(AccessPolicies.Editor);
        api.MapDelete("/{kind}/{name}", async (string kind, string name, DesiredStateStore store, HttpContext http) =>
        {
            if (Kind(kind, out var k) is { } bad)
            {
                return bad;
            }
            if (store.Current.Find(k, Caller.Of(http).Tenant, name) is null)
            {
                return NotFound(http, k, name);
            }
            IResult? failed = null;
            var problems = (await store.ChangeAsync(s =>
            {
                // Checked under the store's lock, against the state the change applies to.
                failed = PreconditionFailed(http, k, s.Find(k, Caller.Of(http).Tenant, name));
                return failed is null ? s.Without(k, Caller.Of(http).Tenant, name) : s;
            }, Caller.Of(http).TokenId)).Problems;
            if (failed is not null)
            {
                return failed;
            }
            return problems.Count == 0
                ? Results.NoContent()
                : Problems.Of(409, "Still in use", $"{k.Plural()}/{name} cannot be deleted while other resources refer to it; change or delete them first.", problems);
        }).RequireAuthorization(AccessPolicies.Editor);
        api.MapGet("/flows/{name}/envoy", (string name, DesiredStateStore store, HttpContext http) =>
        {
            var state = store.Current;
            if (state.Flows.GetValueOrDefault(DesiredState.Key(Caller.Of(http).Tenant, name)) is not { } flow)
            {
                return NotFound(http, ResourceKind.Flow, name);
            }
            var target = state.Targets[DesiredState.Key(Caller.Of(http).Tenant, flow.Target)];
            var snapshot = FlowCompiler.CompileEdge(state, Caller.Of(http).Tenant, target.Edge);
            var cluster = snapshot.Get(TypeUrls.Cluster).Find(CompiledNames.FlowCluster(name));
            var routes = snapshot.Get(TypeUrls.Route).Find(CompiledNames.EgressRoutes);
            return Results.Json(new
            {
                node = CompiledNames.NodeId(Caller.Of(http).Tenant, target.Edge),
                cluster = cluster is null ? null : Envoy(cluster.Body),
                route = routes is null ? null : Envoy(routes.Body)!["virtual_hosts"]![0]!["routes"]!.AsArray().FirstOrDefault(r => r?["name"]?.GetValue<string>() == $"flow-{name}")?.DeepClone(),
            });
        }).RequireAuthorization(AccessPolicies.Viewer);
    }

    private static async Task<IResult> PutAsync(string kind, string name, bool? dryRun, DesiredStateStore store, HttpContext http)
    {
        if (Kind(kind, out var k) is { } bad)
        {
            return bad;
        }
        if (!DesiredStateValidator.IsValidName(name))
        {
            return Problems.Of(400, "Invalid name", $"'{name}' is not a valid {k} name; use {DesiredStateValidator.NameRule}.", [new Problem($"{k.Plural()}/{name}", "name", $"use {DesiredStateValidator.NameRule}.")]);
        }
        object? spec;
        try
        {
            spec = await JsonSerializer.DeserializeAsync(http.Request.Body, FlowApiJson.SpecType(k), FlowApiJson.Options, http.RequestAborted);
        }
        catch (JsonException e)
        {
            var field = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            var reason = e.InnerException?.Message ?? e.Message.Split(" Path:")[0];
            return Problems.Of(400, "Malformed body", $"The body is not a valid {k}.", [new Problem($"{k.Plural()}/{name}", field, reason.TrimEnd('.') + ".")]);
        }
        if (spec is null)
        {
            return Problems.Of(400, "Malformed body", $"The body must be a JSON object describing the {k}.", [new Problem($"{k.Plural()}/{name}", "", "send a JSON object, e.g. {} for all defaults.")]);
        }
        object? existing = null;
        IResult? failed = null;
        var problems = (await store.ChangeAsync(s =>
        {
            // Checked under the store's lock: two writers holding the same ETag cannot both win.
            existing = s.Find(k, Caller.Of(http).Tenant, name);
            failed = PreconditionFailed(http, k, existing);
            return failed is null ? s.With(k, Caller.Of(http).Tenant, name, spec) : s;
        }, Caller.Of(http).TokenId, dryRun == true)).Problems;
        if (failed is not null)
        {
            return failed;
        }
        if (dryRun == true)
        {
            var state = store.Current.With(k, Caller.Of(http).Tenant, name, spec);
            return Results.Json(new
            {
                dryRun = true,
                valid = problems.Count == 0,
                errors = problems.Select(p => p.ToString()),
                // The caller's own edges only: another tenant's targets, paths and secret names are not theirs to see.
                envoy = problems.Count > 0 ? null : FlowCompiler.CompileTenant(state, Caller.Of(http).Tenant).ToDictionary(
                    e => e.Key,
                    e => e.Value.Types.OrderBy(t => TypeUrls.Rank(t.Key)).SelectMany(t => t.Value.Resources.Values).Select(r => Envoy(r.Body)).ToList()),
            });
        }
        if (problems.Count > 0)
        {
            return Problems.Of(422, "Invalid desired state", $"The change to {k.Plural()}/{name} was refused; nothing was changed. Fix every problem listed.", problems);
        }
        http.Response.Headers.ETag = FlowApiJson.ETag(k, spec);
        return existing is null
            ? Results.Created($"/api/v1/{k.Plural()}/{name}", Spec(k, spec))
            : Results.Json(Spec(k, spec));
    }

    private static IResult? Kind(string plural, out ResourceKind kind) =>
        ResourceKinds.TryParsePlural(plural, out kind)
            ? null
            : Problems.Of(404, "Unknown kind", $"'/api/v1/{plural}' is not a kind of resource; use edges, endpoints, targets or flows.");

    private static IResult NotFound(HttpContext http, ResourceKind kind, string name) =>
        Problems.Of(404, "Not found", $"{kind.Plural()}/{name} does not exist in tenant '{Caller.Of(http).Tenant}'.");

    /// <summary>If-Match must name the current ETag; If-None-Match: * refuses to overwrite.</summary>
    private static IResult? PreconditionFailed(HttpContext http, ResourceKind kind, object? existing)
    {
        var ifMatch = http.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length > 0 && ifMatch != "*" && (existing is null || ifMatch != FlowApiJson.ETag(kind, existing)))
        {
            return Problems.Of(412, "Precondition failed", existing is null
                ? $"If-Match was given but the {kind} does not exist."
                : $"If-Match {ifMatch} does not match the current ETag {FlowApiJson.ETag(kind, existing)}: someone changed it since you read it. GET it again, reapply your change, and retry.");
        }
        if (http.Request.Headers.IfNoneMatch.ToString() == "*" && existing is not null)
        {
            return Problems.Of(412, "Precondition failed", $"If-None-Match: * was given but the {kind} already exists.");
        }
        return null;
    }

    private static JsonNode? Spec(ResourceKind kind, object spec) => JsonSerializer.SerializeToNode(spec, FlowApiJson.SpecType(kind), FlowApiJson.Options);

    private static JsonNode? Envoy(Google.Protobuf.WellKnownTypes.Any any) => JsonNode.Parse(FlowApiJson.Envoy.Format(any));
}
