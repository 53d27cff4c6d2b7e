using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Auth;

/// <summary>
/// The operator's token: where it comes from (first start, configuration, or an older database's
/// first admin), that it cannot be minted through the API, and where it acts.
/// </summary>
public sealed class OperatorTokenTests
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<string> DetailAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;

    [Fact]
    public async Task ADatabaseFromBeforeTheOperatorRole_KeepsItsAdminTokenFile_AsTheOperators()
    {
        var dataDir = Directory.CreateTempSubdirectory("zenmesh-upgrade-").FullName;
        string legacy;
        await using (var first = await RunningServer.StartAsync("--no-admin-token", "--data-dir", dataDir))
        {
            legacy = (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin-token"))).Trim();
        }
        // What an older control plane stored for that file's token: tenant default's admin.
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "zenmesh.db")}"))
        {
            await connection.OpenAsync();
            await using var downgrade = connection.CreateCommand();
            downgrade.CommandText = "UPDATE tokens SET tenant = 'default', role = 'Admin', name = 'admin (first start)'";
            Assert.Equal(1, await downgrade.ExecuteNonQueryAsync());
        }

        await using var upgraded = await RunningServer.StartAsync("--no-admin-token", "--data-dir", dataDir);
        using var client = upgraded.Client(legacy);

        using var tenants = await client.GetAsync("/api/v1/tenants");
        Assert.Equal(HttpStatusCode.OK, tenants.StatusCode);
        Assert.Equal(legacy, (await File.ReadAllTextAsync(Path.Combine(dataDir, "admin-token"))).Trim());
        var tokens = await client.GetFromJsonAsync<JsonElement>("/api/v1/tokens").WithTimeout("default's tokens");
        Assert.Empty(tokens.GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task AChangedConfiguredOperatorToken_RevokesTheOneBefore()
    {
        var dataDir = Directory.CreateTempSubdirectory("zenmesh-rotate-").FullName;
        const string old = "zm_old_operator_token_0123456789abcdef";
        const string next = "zm_new_operator_token_fedcba9876543210";
        await using (var first = await RunningServer.StartAsync("--no-admin-token", "--data-dir", dataDir, "--Xds:AdminToken", old))
        {
            using var client = first.Client(old);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/tenants")).StatusCode);
        }

        await using var second = await RunningServer.StartAsync("--no-admin-token", "--data-dir", dataDir, "--Xds:AdminToken", next);
        using var before = second.Client(old);
        using var now = second.Client(next);

        Assert.Equal(HttpStatusCode.Unauthorized, (await before.GetAsync("/api/v1/tenants")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await now.GetAsync("/api/v1/tenants")).StatusCode);
    }

    [Fact]
    public async Task NoOne_MintsAnOperatorToken_ThroughTheApi()
    {
        await using var server = await RunningServer.StartAsync();

        using var asOperator = await server.Http.PostAsync("/api/v1/tokens", Json("""{"name":"x","role":"operator"}"""));
        using var numeric = await server.Http.PostAsync("/api/v1/tokens", Json("""{"name":"x","role":"3"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, asOperator.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, numeric.StatusCode);
        var errors = (await asOperator.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal("tokens: field 'role': is 'operator'; use viewer, editor or admin.", errors[0].GetProperty("message").GetString());
    }

    [Fact]
    public async Task TheOperator_NamingATenantThatDoesNotExist_Is404_AndCreatesNothingThere()
    {
        await using var server = await RunningServer.StartAsync();
        using var client = server.Client(RunningServer.AdminToken, tenant: "nowhere");

        using var put = await client.PutAsync("/api/v1/edges/local", Json("{}"));

        Assert.Equal(HttpStatusCode.NotFound, put.StatusCode);
        Assert.Equal("The ZenMesh-Tenant header names tenant 'nowhere', which does not exist. List them with GET /api/v1/tenants ('zenmesh tenant list'), or create it: POST /api/v1/tenants {\"name\":\"nowhere\"}.", await DetailAsync(put));
        Assert.DoesNotContain("nowhere/local", (await server.GetJsonAsync("/api/v1/status")).GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tenants_AreCreatedOnce_WithValidNames_AndDefaultCannotBeDeleted()
    {
        await using var server = await RunningServer.StartAsync();

        using var created = await server.Http.PostAsync("/api/v1/tenants", Json("""{"name":"acme"}"""));
        using var again = await server.Http.PostAsync("/api/v1/tenants", Json("""{"name":"acme"}"""));
        using var invalid = await server.Http.PostAsync("/api/v1/tenants", Json("""{"name":"Not A Name"}"""));
        using var deleteDefault = await server.Http.DeleteAsync("/api/v1/tenants/default");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, deleteDefault.StatusCode);
        var names = (await server.GetJsonAsync("/api/v1/tenants")).GetProperty("items").EnumerateArray().Select(t => t.GetProperty("name").GetString());
        Assert.Equal(["default", "acme"], names);
    }
}
