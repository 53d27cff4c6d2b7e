using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ZenMesh.Hosting;

/// <summary>Authenticates "Authorization: Bearer &lt;token&gt;" against the service's <see cref="ServiceToken"/>.</summary>
internal sealed class ServiceTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ServiceToken token)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ZenMeshServiceToken";

    internal const string FailureKey = "zenmesh.service-auth.failure";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        if (!token.Matches(header["Bearer ".Length..].Trim()))
        {
            Context.Items[FailureKey] = "unknown";
            return Task.FromResult(AuthenticateResult.Fail("The API token is not this service's."));
        }
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "api-token")], SchemeName)), SchemeName)));
    }
}
