using Microsoft.AspNetCore.Mvc;
using ZenMesh.XdsServer.Auth;

namespace ZenMesh.XdsServer.OperatorConsole;

/// <summary>
/// The operator console at /ui on the control plane's HTTP listener: server-rendered Razor
/// components, signed in with an API token (the same tokens and roles as the API). The token is
/// kept in a cookie that only /ui reads (HTTP-only, Secure, SameSite=Strict), and each request
/// checks it against the token store, so a revoked token signs its console out at once. The API
/// never reads the cookie: a page elsewhere cannot ride it into the API.
/// </summary>
internal static class ConsoleEndpoints
{
    public const string Prefix = "/ui";
    public const string Cookie = "zenmesh_console";
    public const string SignInPath = "/ui/sign-in";

    /// <summary>Where the sign-in form posts (not the page's own path, which Razor components also answer to POST).</summary>
    public const string SessionPath = "/ui/session";

    /// <summary>
    /// What the sign-in page may say, by the code in its query: a fixed text, so a link cannot put
    /// words of its own on ZenMesh's sign-in page.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> SignInErrors = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["empty"] = "Paste an API token: the operator's first one is in <data-dir>/admin-token.",
        ["unknown"] = TokenAuthenticationHandler.Unknown,
    };

    /// <summary>
    /// Every console answer: nothing loads from elsewhere (all assets are in the page), forms post only
    /// here, no other site may frame it, and no address leaks in a Referer.
    /// </summary>
    public static IApplicationBuilder UseConsoleHeaders(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        if (IsConsole(http))
        {
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.CacheControl = "no-store";
        }
        return next(http);
    });

    public static void MapConsole(this IEndpointRouteBuilder app)
    {
        // Form posts are checked against the antiforgery token each form carries.
        app.MapPost(SessionPath, ([FromForm] string? token, TokenStore tokens, HttpContext http) =>
        {
            if (string.IsNullOrWhiteSpace(token))
            {
                return SignInAgain("empty");
            }
            if (tokens.Find(token.Trim()) is null)
            {
                return SignInAgain("unknown");
            }
            http.Response.Cookies.Append(Cookie, token.Trim(), CookieOptions());
            return Results.Redirect(Prefix);
        }).AllowAnonymous();
        app.MapPost("/ui/sign-out", (HttpContext http) =>
        {
            http.Response.Cookies.Delete(Cookie, CookieOptions());
            return Results.Redirect(SignInPath);
        }).RequireAuthorization(AccessPolicies.Viewer);
        // Every page needs a viewer unless it says otherwise (sign-in), and so does the endpoint the
        // components map for redirects (/_framework/opaque-redirect).
        app.MapRazorComponents<ConsoleApp>().RequireAuthorization(AccessPolicies.Viewer);
    }

    /// <summary>True for the console's own paths, where the cookie counts and refusals are pages, not problems.</summary>
    public static bool IsConsole(HttpContext http) => http.Request.Path.StartsWithSegments(Prefix);

    /// <summary>The cookie's settings, the same to set and to delete it (a browser matches them).</summary>
    private static CookieOptions CookieOptions() => new() { HttpOnly = true, Secure = true, SameSite = SameSiteMode.Strict, Path = Prefix, IsEssential = true };

    private static IResult SignInAgain(string error) => Results.Redirect($"{SignInPath}?error={error}");
}
