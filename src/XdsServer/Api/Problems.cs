using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Api;

/// <summary>application/problem+json answers that list every problem, each with resource, field and fix.</summary>
internal static class Problems
{
    public static IResult Of(int status, string title, string detail, IEnumerable<Problem>? problems = null) =>
        Results.Json(
            new
            {
                type = $"urn:zenmesh:problem:{status}",
                title,
                status,
                detail,
                errors = (problems ?? []).Select(p => new { resource = p.Resource, field = p.Field, detail = p.Detail, message = p.ToString() }),
            },
            statusCode: status,
            contentType: "application/problem+json");
}
