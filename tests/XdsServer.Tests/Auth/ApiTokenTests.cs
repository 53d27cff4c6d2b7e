using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using ZenMesh.XdsServer.Auth;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Auth;

public sealed class ApiTokenTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        using var client = new HttpClient { BaseAddress = _server.HttpUri };
        return await client.SendAsync(request).WithTimeout($"{method} {path}");
    }

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;

    private async Task<string> CreateTokenAsync(string role, string name = "test")
    {
        using var created = await SendAsync(HttpMethod.Post, "/api/v1/tokens", RunningServer.AdminToken, $$"""{"name":"{{name}}","role":"{{role}}"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task NoToken_Or_UnknownToken_Is401_SayingWhatToSend()
    {
        using var none = await SendAsync(HttpMethod.Get, "/api/v1/flows", null);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal("Bearer", none.Headers.WwwAuthenticate.ToString());
        Assert.Equal("Send an API token as 'Authorization: Bearer <token>'. The first admin token is in <data-dir>/admin-token, or set ZENMESH_ADMIN_TOKEN.", await DetailAsync(none));

        using var unknown = await SendAsync(HttpMethod.Get, "/api/v1/flows", "zm_not_a_token");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal("The API token is not known (mistyped, or revoked). Ask an admin of your tenant for a new one.", await DetailAsync(unknown));
    }

    [Fact]
    public async Task Viewer_Reads_ButCannotChange_Editor_ChangesButCannotManageTokens()
    {
        var viewer = await CreateTokenAsync("viewer", "dashboard");
        using (var read = await SendAsync(HttpMethod.Get, "/api/v1/edges", viewer))
        {
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
        using (var write = await SendAsync(HttpMethod.Put, "/api/v1/edges/local", viewer, "{}"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);
            Assert.Equal("This needs the editor role; the token 'dashboard' is viewer in tenant 'default'.", await DetailAsync(write));
        }

        var editor = await CreateTokenAsync("editor", "ci");
        using (var write = await SendAsync(HttpMethod.Put, "/api/v1/edges/local", editor, "{}"))
        {
            Assert.Equal(HttpStatusCode.Created, write.StatusCode);
        }
        using var tokens = await SendAsync(HttpMethod.Get, "/api/v1/tokens", editor);
        Assert.Equal(HttpStatusCode.Forbidden, tokens.StatusCode);
    }

    [Fact]
    public async Task Tokens_AreStoredHashed_ListedWithoutValues_AndRevocable()
    {
        var token = await CreateTokenAsync("editor", "short-lived");
        using var list = await SendAsync(HttpMethod.Get, "/api/v1/tokens", RunningServer.AdminToken);
        var listed = (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Single(t => t.GetProperty("name").GetString() == "short-lived");
        Assert.False(listed.TryGetProperty("token", out _));
        Assert.DoesNotContain(token, await list.Content.ReadAsStringAsync());

        using var revoked = await SendAsync(HttpMethod.Delete, $"/api/v1/tokens/{listed.GetProperty("id").GetString()}", RunningServer.AdminToken);
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        using var after = await SendAsync(HttpMethod.Get, "/api/v1/edges", token);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
    }

    [Fact]
    public async Task CreateToken_WithoutNameOrRole_ListsBothProblems()
    {
        using var bad = await SendAsync(HttpMethod.Post, "/api/v1/tokens", RunningServer.AdminToken, """{"role":"owner"}""");
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(
            ["tokens: field 'name': is missing; say what the token is for, e.g. \"ci\".", "tokens: field 'role': is 'owner'; use viewer, editor or admin."],
            problem.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task Tenants_SeeOnlyTheirOwnResources_AndTheirEdgesAreSeparateNodes()
    {
        var (_, other) = _server.Services.GetRequiredService<TokenStore>().Create("other", Role.Admin, "other admin", DateTimeOffset.UtcNow);
        using (var mine = await SendAsync(HttpMethod.Put, "/api/v1/edges/local", RunningServer.AdminToken, "{}"))
        {
            Assert.Equal(HttpStatusCode.Created, mine.StatusCode);
        }
        using (var theirs = await SendAsync(HttpMethod.Get, "/api/v1/edges/local", other))
        {
            Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
            Assert.Equal("edges/local does not exist in tenant 'other'.", await DetailAsync(theirs));
        }
        using (var sameName = await SendAsync(HttpMethod.Put, "/api/v1/edges/local", other, """{"mode":"kubernetes"}"""))
        {
            Assert.Equal(HttpStatusCode.Created, sameName.StatusCode);
        }
        var status = (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges");
        Assert.Equal(["default/local"], status.EnumerateArray().Select(e => e.GetProperty("node").GetString()));
    }

    [Fact]
    public async Task FirstStart_WithoutAConfiguredToken_WritesOneToTheDataDir_Mode0600()
    {
        var dataDir = Directory.CreateTempSubdirectory("zenmesh-first-").FullName;
        await using var fresh = await RunningServer.StartAsync("--no-admin-token", "--data-dir", dataDir);
        var file = Path.Combine(dataDir, "admin-token");
        var token = (await File.ReadAllTextAsync(file)).Trim();

        Assert.StartsWith("zm_", token);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
        using var client = new HttpClient { BaseAddress = fresh.HttpUri };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.GetAsync("/api/v1/tokens");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_IsServedWithoutAToken_AndDescribesTheFlowApi()
    {
        using var response = await SendAsync(HttpMethod.Get, "/api/v1/openapi.json", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ZenMesh Flow API", document.GetProperty("info").GetProperty("title").GetString());
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/{kind}/{name}", paths);
        Assert.Contains("/api/v1/apply", paths);
        Assert.Contains("/api/v1/evidence/verify", paths);
    }
}
