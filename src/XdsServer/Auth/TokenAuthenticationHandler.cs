using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// Authenticates "Authorization: Bearer &lt;token&gt;" against the token store (on the console's
/// pages, the token its sign-in put in its cookie). It only says who the caller is; what they may
/// do is each endpoint's declared policy (<see cref="AccessPolicies"/>).
/// </summary>
internal sealed class TokenAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, TokenStore tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ZenMeshToken";

    /// <summary>Why authentication failed, for the 401's explanation (<see cref="AccessResults"/>).</summary>
    internal const string FailureKey = "zenmesh.auth.failure";

    internal const string Missing = "Send an API token as 'Authorization: Bearer <token>'. The first admin token is in <data-dir>/admin-token, or set ZENMESH_ADMIN_TOKEN.";
    internal const string Unknown = "The API token is not known (mistyped, or revoked). Ask an admin of your tenant for a new one.";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (header.Length == 0 && OperatorConsole.ConsoleEndpoints.IsConsole(Context) && Request.Cookies[OperatorConsole.ConsoleEndpoints.Cookie] is { Length: > 0 } signedIn)
        {
            header = "Bearer " + signedIn;
        }
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            Context.Items[FailureKey] = Missing;
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (tokens.Find(header["Bearer ".Length..].Trim()) is not { } token)
        {
            Context.Items[FailureKey] = Unknown;
            return Task.FromResult(AuthenticateResult.Fail(Unknown));
        }
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(CallerClaims.Principal(token, SchemeName), SchemeName)));
    }
}
