using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using ZenMesh.Hosting;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>One route a service serves, read from its EndpointDataSource, as declared (listener, policy or anonymous).</summary>
internal sealed record ServedRoute(string Key, string Method, string Pattern, string? Listener, bool Anonymous, string? Policy)
{
    public bool IsGrpc => Key.StartsWith("gRPC ", StringComparison.Ordinal);
}

/// <summary>
/// Reads every route a running service serves, so a service's route table test can hold its table
/// against what is really mapped: a route added without a row (or a rule) fails it.
/// </summary>
internal static partial class RouteTable
{
    public static IReadOnlyList<ServedRoute> Of(IServiceProvider services) =>
        // A route with several methods (a Razor component page answers GET and POST) is a row per method.
        [.. services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().SelectMany(e =>
            (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is { Count: > 0 } methods ? methods : ["*"]).Select(method =>
            {
                var pattern = "/" + (e.RoutePattern.RawText ?? "").TrimStart('/');
                var grpc = e.DisplayName?.StartsWith("gRPC", StringComparison.Ordinal) == true;
                var key = grpc ? $"gRPC {pattern}" : $"{method} {pattern}";
                return new ServedRoute(key, method, pattern, e.Metadata.GetMetadata<ServedOn>()?.Listener.Name,
                    e.Metadata.GetMetadata<IAllowAnonymous>() is not null, e.Metadata.GetOrderedMetadata<IAuthorizeData>() is { Count: > 0 } declared ? declared[^1].Policy : null);
            }))];

    /// <summary>True when a table row names the route: exactly, or a gRPC service's methods as "gRPC /{service}/*".</summary>
    public static bool Matches(string row, ServedRoute route) =>
        row == route.Key || (row.EndsWith("/*", StringComparison.Ordinal) && route.Key.StartsWith(row[..^1], StringComparison.Ordinal));

    /// <summary>The route's pattern with each {parameter} (and its constraint) replaced by a value.</summary>
    public static string Concrete(string pattern, IReadOnlyDictionary<string, string> values) =>
        Parameter().Replace(pattern, m => values.TryGetValue(m.Groups[1].Value, out var v) ? v : throw new InvalidOperationException($"No test value for route parameter '{m.Groups[1].Value}' in {pattern}; add one to the table's values."));

    [GeneratedRegex(@"\{\*{0,2}([A-Za-z_]+)(:[^}]*)?\}")]
    private static partial Regex Parameter();
}
