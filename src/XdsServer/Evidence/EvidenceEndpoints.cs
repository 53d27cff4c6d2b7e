using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Auth;

namespace ZenMesh.XdsServer.Evidence;

/// <summary>GET /api/v1/evidence (filters: kind, subject, after, limit) and GET /api/v1/evidence/verify.</summary>
public static class EvidenceEndpoints
{
    public static void MapEvidence(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/evidence", (string? kind, string? subject, long? after, int? limit, EvidenceLedger ledger, HttpContext http) =>
        {
            if (kind is not (null or "change" or "ack" or "nack" or "identity"))
            {
                return Problems.Of(400, "Invalid filter", $"kind '{kind}' is not a kind of evidence; use change, ack, nack or identity.");
            }
            if (limit is < 1 or > 10_000)
            {
                return Problems.Of(400, "Invalid filter", $"limit {limit} is out of range; use 1 to 10000 (default 1000), and 'after' to page.");
            }
            var entries = ledger.Read(Caller.Of(http).Tenant, kind, subject, after, limit ?? 1000);
            return Results.Json(new { items = entries, next = entries.Count == 0 ? (long?)null : entries[^1].Seq });
        }).RequireAuthorization(AccessPolicies.Viewer);
        app.MapGet("/api/v1/evidence/verify", (EvidenceLedger ledger, HttpContext http) =>
        {
            var (valid, count, problem) = ledger.Verify(Caller.Of(http).Tenant);
            return Results.Json(new { valid, entries = count, problem }, statusCode: valid ? 200 : 409);
        }).RequireAuthorization(AccessPolicies.Viewer);
    }
}
