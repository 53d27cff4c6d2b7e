using ZenMesh.Hosting;
using ZenMesh.Xds;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ZenMesh.XdsServer.Api;
using ZenMesh.XdsServer.Auth;
using ZenMesh.XdsServer.Evidence;
using ZenMesh.XdsServer.Hosting;
using ZenMesh.XdsServer.Model;
using ZenMesh.XdsServer.Storage;

namespace ZenMesh.XdsServer.Identity;

/// <summary>
/// POST /api/v1/edges/{name}/enrollment: a one-time, short-lived bundle (control-plane address, CA
/// certificate, token) the agent exchanges for the edge's credential. POST .../rotate revokes every
/// credential of the edge (its streams end) and returns a new bundle. GET .../credentials lists them.
/// </summary>
public static class EnrollmentEndpoints
{
    public sealed record EnrollmentRequest(string? Ttl);

    public static void MapEnrollment(this IEndpointRouteBuilder app)
    {
        // Editors may create and delete edges, so they may also give them their identity.
        app.MapPost("/api/v1/edges/{name}/enrollment", (string name, HttpContext http, EnrollmentContext context) => CreateAsync(name, http, context, rotate: false))
            .RequireAuthorization(AccessPolicies.Editor);
        app.MapPost("/api/v1/edges/{name}/rotate", (string name, HttpContext http, EnrollmentContext context) => CreateAsync(name, http, context, rotate: true))
            .RequireAuthorization(AccessPolicies.Editor);
        app.MapGet("/api/v1/edges/{name}/credentials", (string name, HttpContext http, EdgeCredentialStore credentials, DesiredStateStore store) =>
        {
            var tenant = Caller.Of(http).Tenant;
            if (!store.Current.Edges.ContainsKey(DesiredState.Key(tenant, name)))
            {
                return Problems.Of(404, "Not found", $"edges/{name} does not exist in tenant '{tenant}'.");
            }
            return Results.Json(new { items = credentials.List(tenant, name) });
        }).RequireAuthorization(AccessPolicies.Viewer);
    }

    private static async Task<IResult> CreateAsync(string name, HttpContext http, EnrollmentContext c, bool rotate)
    {
        var caller = Caller.Of(http);
        var nodeId = DesiredState.Key(caller.Tenant, name);
        if (!c.Store.Current.Edges.ContainsKey(nodeId))
        {
            return Problems.Of(404, "Not found", $"edges/{name} does not exist in tenant '{caller.Tenant}'; create it first: PUT /api/v1/edges/{name} {{\"mode\":\"vm\"}}.");
        }
        var ttl = c.Options.EnrollmentLifetime;
        if (http.Request.ContentLength > 0)
        {
            EnrollmentRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync<EnrollmentRequest>(http.Request.Body, FlowApiJson.Options, http.RequestAborted);
            }
            catch (JsonException e)
            {
                return Problems.Of(400, "Malformed body", $"Send {{\"ttl\": \"15m\"}} or no body: {e.Message.Split(" Path:")[0]}");
            }
            if (request?.Ttl is { } text)
            {
                if (!DurationText.TryParse(text, out var parsed) || parsed <= TimeSpan.Zero || parsed > TimeSpan.FromHours(24))
                {
                    return Problems.Of(400, "Invalid enrollment request", "No bundle was created.", [new Problem($"edges/{name}/enrollment", "ttl", $"is '{text}'; use a duration from 1s to 24h, e.g. \"15m\".")]);
                }
                ttl = parsed;
            }
        }
        var now = c.Time.GetUtcNow();
        var revoked = 0;
        if (rotate)
        {
            revoked = c.Credentials.RevokeEdge(nodeId, $"rotated by token {caller.TokenId}", now);
            await c.Ledger.AppendAsync(caller.Tenant, "identity", caller.TokenId, $"edges/{name}", JsonSerializer.Serialize(new { action = "rotated", revoked })).ConfigureAwait(false);
        }
        var expiresAt = now + ttl;
        var token = c.Credentials.CreateEnrollment(caller.Tenant, name, caller.TokenId, now, expiresAt);
        await c.Ledger.AppendAsync(caller.Tenant, "identity", caller.TokenId, $"edges/{name}", JsonSerializer.Serialize(new { action = "enrollment-created", expiresAt })).ConfigureAwait(false);
        return Results.Json(new
        {
            edge = nodeId,
            controlPlane = c.AdsAddress(http),
            tls = c.Authorization.Required,
            caCertificate = c.ServerTrustPem,
            token,
            expiresAt,
            revokedCredentials = rotate ? revoked : (int?)null,
            note = $"Use once, before {expiresAt:O}: 'agent enroll --bundle <this file>'. Keep it secret until then.",
        }, statusCode: 201);
    }
}

/// <summary>What the enrollment endpoints need, in one injectable piece.</summary>
public sealed class EnrollmentContext(
    DesiredStateStore store,
    EdgeCredentialStore credentials,
    CertificateAuthority authority,
    XdsAuthorization authorization,
    EvidenceLedger ledger,
    BoundEndpoints bound,
    IOptions<XdsServerOptions> options,
    TimeProvider time)
{
    public DesiredStateStore Store { get; } = store;
    public EdgeCredentialStore Credentials { get; } = credentials;
    public CertificateAuthority Authority { get; } = authority;
    public XdsAuthorization Authorization { get; } = authorization;
    public EvidenceLedger Ledger { get; } = ledger;
    public XdsServerOptions Options { get; } = options.Value;
    public TimeProvider Time { get; } = time;

    /// <summary>What an agent must trust to verify this server: the CA, or the operator's CA when they supplied the certificate.</summary>
    public string ServerTrustPem { get; } = options.Value.TlsCertificateFile is { Length: > 0 } file
        ? File.ReadAllText(options.Value.TlsServerCaFile is { Length: > 0 } ca ? ca : file)
        : authority.CertificatePem;

    /// <summary>Where the agent reaches xDS: configured, or this server's ADS port on the host the caller used.</summary>
    public string AdsAddress(HttpContext http)
    {
        if (Options.PublicAdsAddress is { Length: > 0 } configured)
        {
            return configured;
        }
        var endpoint = bound.Ads.EndPoint;
        var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any) ? http.Request.Host.Host : endpoint.Address.ToString();
        return $"{(bound.Ads.UsesTls ? "https" : "http")}://{host}:{endpoint.Port}";
    }
}
