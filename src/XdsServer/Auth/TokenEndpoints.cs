using System.Text.Json;
using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Auth;

/// <summary>Token management for a tenant's admins: create (the value is shown once), list, revoke.</summary>
public static class TokenEndpoints
{
    public sealed record CreateTokenRequest(string? Name, string? Role);

    public static void MapTokens(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/tokens", (HttpContext http, TokenStore tokens) =>
            Results.Json(new { items = tokens.List(Caller.Of(http).Tenant).Select(t => new { id = t.Id, name = t.Name, role = t.Role.ToString().ToLowerInvariant(), createdAt = t.CreatedAt }) }))
            .RequireAuthorization(AccessPolicies.Admin);
        app.MapPost("/api/v1/tokens", async (HttpContext http, TokenStore tokens, TimeProvider time) =>
        {
            CreateTokenRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync<CreateTokenRequest>(http.Request.Body, FlowApiJson.Options, http.RequestAborted);
            }
            catch (JsonException e)
            {
                return Problems.Of(400, "Malformed body", $"Send {{\"name\": \"ci\", \"role\": \"editor\"}}: {e.Message.Split(" Path:")[0]}");
            }
            var problems = new List<Problem>();
            if (string.IsNullOrWhiteSpace(request?.Name))
            {
                problems.Add(new Problem("tokens", "name", "is missing; say what the token is for, e.g. \"ci\"."));
            }
            if (!Enum.TryParse<Role>(request?.Role, ignoreCase: true, out var role) || !Enum.IsDefined(role) || role == Role.Operator || int.TryParse(request?.Role, out _))
            {
                problems.Add(new Problem("tokens", "role", $"is '{request?.Role}'; use viewer, editor or admin."));
            }
            if (problems.Count > 0)
            {
                return Problems.Of(400, "Invalid token request", "No token was created.", problems);
            }
            var (token, value) = tokens.Create(Caller.Of(http).Tenant, role, request!.Name!, time.GetUtcNow());
            return Results.Json(new { id = token.Id, name = token.Name, role = token.Role.ToString().ToLowerInvariant(), tenant = token.Tenant, token = value, note = "Store this value now; it is not shown again." }, statusCode: 201);
        }).RequireAuthorization(AccessPolicies.Admin);
        app.MapDelete("/api/v1/tokens/{id}", (string id, HttpContext http, TokenStore tokens) =>
            tokens.Revoke(Caller.Of(http).Tenant, id) ? Results.NoContent() : Problems.Of(404, "Not found", $"No token '{id}' in tenant '{Caller.Of(http).Tenant}'."))
            .RequireAuthorization(AccessPolicies.Admin);
    }
}
