using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ZenMesh.XdsServer.Sources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Sources;

/// <summary>
/// YAML an attacker writes: a ~300-byte alias bomb (each level nine references to the one before:
/// 9^9 strings once expanded), nesting deep enough to exhaust a stack, a body larger than any
/// bundle. Each is refused with a 400 that says why, quickly, without the memory it asks for.
/// </summary>
public sealed class HostileYamlTests
{
    /// <summary>Nine levels of nine aliases: 387,420,489 "lol"s if expanded.</summary>
    public static readonly string AliasBomb = """
        a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
        c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
        d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
        f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
        g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
        edges: [*h,*h,*h,*h,*h,*h,*h,*h,*h]
        """;

    [Fact]
    public async Task AnAliasBomb_ToApply_Is400_AtOnce_WithoutTheMemoryItAsksFor()
    {
        Assert.True(AliasBomb.Length < 400);
        await using var server = await RunningServer.StartAsync();
        var before = GC.GetTotalAllocatedBytes(precise: true);

        using var response = await server.Http.PostAsync("/api/v1/apply", new StringContent(AliasBomb, Encoding.UTF8, "application/yaml")).WithTimeout("the alias bomb's answer", TimeSpan.FromSeconds(10));

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("The bundle is neither valid JSON nor valid YAML (line 2, column 8): YAML aliases (*a) are not accepted: write each value out where it is used.", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.True(allocated < 64L << 20, $"answering took {allocated >> 20} MiB of allocations");
    }

    [Fact]
    public void AnAliasBomb_AsTheResourcesFile_IsRefused_NamingTheLine()
    {
        var error = Assert.Throws<ResourceFileException>(() => ResourceFileParser.Parse("bomb.yaml", AliasBomb));
        Assert.Equal(["not valid YAML (line 2, column 8): YAML aliases (*a) are not accepted: write each value out where it is used."], error.Errors);
    }

    [Fact]
    public async Task NestingDeeperThanAnyBundle_Is400_InYamlAndJson()
    {
        await using var server = await RunningServer.StartAsync();
        var yaml = new string('[', 10_000) + new string(']', 10_000);
        var json = "{\"edges\":" + new string('[', 10_000) + new string(']', 10_000) + "}";

        using var deepYaml = await server.Http.PostAsync("/api/v1/apply", new StringContent(yaml, Encoding.UTF8, "application/yaml")).WithTimeout("deep YAML");
        using var deepJson = await server.Http.PostAsync("/api/v1/apply", new StringContent(json, Encoding.UTF8, "application/json")).WithTimeout("deep JSON");

        Assert.Equal(HttpStatusCode.BadRequest, deepYaml.StatusCode);
        Assert.Contains("nested more than 64 levels deep", await deepYaml.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, deepJson.StatusCode);
    }

    [Fact]
    public async Task ABundleLargerThanTheLimit_Is413_SayingTheLimit()
    {
        await using var server = await RunningServer.StartAsync();
        var huge = "{\"edges\":{" + string.Join(",", Enumerable.Range(0, 400_000).Select(i => $"\"e{i}\":{{}}")) + "}}";
        Assert.True(huge.Length > 4 << 20);

        using var response = await server.Http.PostAsync("/api/v1/apply", new StringContent(huge, Encoding.UTF8, "application/json")).WithTimeout("the oversized bundle");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("4 MiB", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
