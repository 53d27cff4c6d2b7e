using System.Text.Json;
using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// The operator's tenants: create one (answering its first admin token, once), list them, delete
/// one that has no edges left (its tokens go with it).
/// </summary>
public static class TenantEndpoints
{
    public sealed record CreateTenantRequest(string? Name);

    public static void MapTenants(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/tenants", (TenantStore tenants, DesiredStateStore store) =>
            Results.Json(new { items = tenants.List().Select(t => new { name = t.Name, createdAt = t.Name == ApiToken.DefaultTenant ? (DateTimeOffset?)null : t.CreatedAt, edges = store.Current.List(ResourceKind.Edge, t.Name).Count() }) }))
            .RequireAuthorization(AccessPolicies.Operator);
        app.MapPost("/api/v1/tenants", async (HttpContext http, TenantStore tenants, TokenStore tokens, EvidenceLedger ledger, TimeProvider time) =>
        {
            CreateTenantRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync<CreateTenantRequest>(http.Request.Body, FlowApiJson.Options, http.RequestAborted);
            }
            catch (JsonException e)
            {
                return Problems.Of(400, "Malformed body", $"Send {{\"name\": \"acme\"}}: {e.Message.Split(" Path:")[0]}");
            }
            var name = request?.Name;
            if (string.IsNullOrEmpty(name) || !DesiredStateValidator.IsValidName(name))
            {
                return Problems.Of(400, "Invalid tenant", "No tenant was created.", [new Problem("tenants", "name", $"is '{name}'; use {DesiredStateValidator.NameRule}.")]);
            }
            var now = time.GetUtcNow();
            if (!tenants.Create(name, now))
            {
                return Problems.Of(409, "Tenant exists", $"Tenant '{name}' already exists. Its admins manage its tokens (POST /api/v1/tokens); the operator may act in it with the {CallerClaims.TenantHeader} header.");
            }
            var (token, value) = tokens.Create(name, Role.Admin, "first admin", now);
            var caller = Caller.Of(http);
            await ledger.AppendAsync(name, "identity", caller.TokenId, $"tenants/{name}", JsonSerializer.Serialize(new { action = "tenant-created", firstAdminToken = token.Id })).ConfigureAwait(false);
            return Results.Json(new { name, token = value, tokenId = token.Id, note = "This is the tenant's first admin token. Store it now; it is not shown again." }, statusCode: 201);
        }).RequireAuthorization(AccessPolicies.Operator);
        app.MapDelete("/api/v1/tenants/{name}", async (string name, HttpContext http, TenantStore tenants, TokenStore tokens, DesiredStateStore store, EvidenceLedger ledger) =>
        {
            if (name == ApiToken.DefaultTenant)
            {
                return Problems.Of(409, "Cannot delete", "Tenant 'default' always exists; delete its resources instead.");
            }
            if (!tenants.Exists(name))
            {
                return Problems.Of(404, "Not found", $"Tenant '{name}' does not exist.");
            }
            var edges = store.Current.List(ResourceKind.Edge, name).Select(e => e.Name).ToList();
            if (edges.Count > 0)
            {
                return Problems.Of(409, "Tenant has edges", $"Tenant '{name}' still has {edges.Count} edge(s); delete them (and what refers to them) first.", edges.Select(e => new Problem($"edges/{e}", "", "still exists.")));
            }
            var revoked = tokens.RevokeTenant(name);
            tenants.Delete(name);
            await ledger.AppendAsync(name, "identity", Caller.Of(http).TokenId, $"tenants/{name}", JsonSerializer.Serialize(new { action = "tenant-deleted", revokedTokens = revoked })).ConfigureAwait(false);
            return Results.NoContent();
        }).RequireAuthorization(AccessPolicies.Operator);
    }
}
