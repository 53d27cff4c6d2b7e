using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Auth;

/// <summary>
/// Attacks on the control plane's HTTP surface, each performed as an attacker would and refused:
/// a token reaching above its role, a tenant reaching into another, admin views reached through
/// the xDS port. Each failed before authorization was declared per endpoint.
/// </summary>
public sealed class ControlPlaneAttackTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("/api/v1/Tokens")]
    [InlineData("/API/V1/TOKENS")]
    [InlineData("/api/v1/tokens/")]
    [InlineData("/api/v1//tokens")]
    public async Task AnEditor_CannotCreateAnAdminToken_WhateverThePathLooksLike(string path)
    {
        var editor = await _server.CreateTokenAsync("editor");
        using var client = _server.Client(editor);

        using var response = await client.PostAsync(path, Json("""{"name":"x","role":"admin"}""")).WithTimeout($"POST {path}");

        Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound, $"POST {path} as an editor answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var tokens = await _server.GetJsonAsync("/api/v1/tokens");
        Assert.DoesNotContain(tokens.GetProperty("items").EnumerateArray(), t => t.GetProperty("name").GetString() == "x");
    }

    [Fact]
    public async Task AnEditor_CannotRevokeTokens_NorAViewerChangeAnything()
    {
        var editor = await _server.CreateTokenAsync("editor");
        var viewer = await _server.CreateTokenAsync("viewer");
        var id = (await _server.GetJsonAsync("/api/v1/tokens")).GetProperty("items")[0].GetProperty("id").GetString();

        using var asEditor = _server.Client(editor);
        using var revoke = await asEditor.DeleteAsync($"/API/v1/Tokens/{id}");
        Assert.Equal(HttpStatusCode.Forbidden, revoke.StatusCode);

        using var asViewer = _server.Client(viewer);
        using var apply = await asViewer.PostAsync("/Api/V1/Apply", Json("""{"edges":{"x":{}}}"""));
        Assert.Equal(HttpStatusCode.Forbidden, apply.StatusCode);
        using var enroll = await asViewer.PostAsync("/api/v1/edges/x/Enrollment", null);
        Assert.Equal(HttpStatusCode.Forbidden, enroll.StatusCode);
    }

    [Theory]
    [InlineData("/admin/xds/clients")]
    [InlineData("/admin/xds/nacks")]
    [InlineData("/admin/xds/snapshot")]
    [InlineData("/admin/xds/source")]
    [InlineData("/metrics")]
    [InlineData("/api/v1/edges")]
    [InlineData("/api/v1/tokens")]
    public async Task TheXdsPort_ServesNoAdminView_NoMetrics_AndNoFlowApi_InCleartext(string path)
    {
        using var client = new HttpClient { BaseAddress = _server.AdsUri, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TestTimeouts.Default };
        client.DefaultRequestHeaders.Authorization = new("Bearer", RunningServer.AdminToken);

        using var response = await client.GetAsync(path).WithTimeout($"GET {path} on the xDS port");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task TheXdsPort_WithTls_ServesNoAdminView_ToAClientWithoutACertificate()
    {
        await using var server = await RunningServer.StartAsync("--tls");
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var client = new HttpClient(handler) { BaseAddress = server.AdsUri, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TestTimeouts.Default };

        foreach (var path in new[] { "/admin/xds/clients", "/admin/xds/nacks", "/admin/xds/snapshot", "/metrics", "/healthz" })
        {
            using var response = await client.GetAsync(path).WithTimeout($"GET {path} on the xDS port");
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"GET {path} on the xDS port answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Theory]
    [InlineData("/admin/xds/clients")]
    [InlineData("/admin/xds/nacks")]
    [InlineData("/admin/xds/snapshot?node=default/local")]
    [InlineData("/admin/xds/source")]
    public async Task AdminViews_SpanEveryTenant_SoATenantsAdminIsRefused(string path)
    {
        var admin = await _server.CreateTokenAsync("admin");
        using var client = _server.Client(admin);

        using var response = await client.GetAsync(path).WithTimeout($"GET {path}");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("This needs the operator role; the token 'test' is admin in tenant 'default'.", await DetailAsync(response));
    }

    [Fact]
    public async Task ADryRun_CompilesOnlyTheCallersEdges_NotAnotherTenants()
    {
        await _server.PutAllOkAsync(
            ("edges/secret-edge", "{}"),
            ("targets/payroll", """{"edge":"secret-edge","url":"http://10.1.2.3/payroll-hook"}"""));
        var other = await _server.CreateTenantAsync("acme");
        using var acme = _server.Client(other);

        using var dry = await acme.PutAsync("/api/v1/edges/mine?dryRun=true", Json("{}")).WithTimeout("a dry run");
        var text = await dry.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, dry.StatusCode);
        Assert.DoesNotContain("payroll", text, StringComparison.Ordinal);
        Assert.DoesNotContain("default/", text, StringComparison.Ordinal);
        Assert.Equal(["acme/mine"], JsonDocument.Parse(text).RootElement.GetProperty("envoy").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task EvidenceVerify_CountsOnlyTheCallersEntries()
    {
        await _server.PutAllOkAsync(("edges/a", "{}"), ("edges/b", "{}"), ("edges/c", "{}"));
        var other = await _server.CreateTenantAsync("acme");
        using var acme = _server.Client(other);
        using (var put = await acme.PutAsync("/api/v1/edges/mine", Json("{}")))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var mine = await acme.GetFromJsonAsync<JsonElement>("/api/v1/evidence/verify");
        var listed = await acme.GetFromJsonAsync<JsonElement>("/api/v1/evidence");

        Assert.True(mine.GetProperty("valid").GetBoolean());
        Assert.Equal(listed.GetProperty("items").GetArrayLength(), mine.GetProperty("entries").GetInt64());
        Assert.All(listed.GetProperty("items").EnumerateArray(), e => Assert.Equal("acme", e.GetProperty("tenant").GetString()));
    }

    [Fact]
    public async Task AnotherTenantsAdmin_NamingTheTenant_IsRefused()
    {
        await _server.PutOkAsync("edges/local", "{}");
        var other = await _server.CreateTenantAsync("acme");
        using var acme = _server.Client(other, tenant: "default");

        using var read = await acme.GetAsync("/api/v1/edges/local");
        using var delete = await acme.DeleteAsync("/api/v1/edges/local");

        Assert.Equal(HttpStatusCode.Forbidden, read.StatusCode);
        Assert.Equal("The token 'first admin' is admin in tenant 'acme'; it cannot act in tenant 'default'. Leave out the ZenMesh-Tenant header, or use a token of that tenant.", await DetailAsync(read));
        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.Http.GetAsync("/api/v1/edges/local")).StatusCode);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
}
