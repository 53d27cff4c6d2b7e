using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Sources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Sources;

public sealed class ResourceFileSourceTests : IDisposable
{
    private const string Cluster = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"zenmesh-source-{Guid.NewGuid():N}.json");

    public void Dispose() => File.Delete(_file);

    private static string Clusters(params string[] names) =>
        "[" + string.Join(",", names.Select(n => $$"""{"@type": "{{Cluster}}", "name": "{{n}}", "type": "STATIC"}""")) + "]";

    [Fact]
    public async Task Start_WithABrokenFile_IsRefusedWithEveryProblem()
    {
        await File.WriteAllTextAsync(_file, $$"""[{"@type": "{{Cluster}}", "name": "x", "typo_field": 1}]""");

        var error = await Assert.ThrowsAsync<ResourceFileException>(() => RunningServer.StartAsync("--resources", _file));
        Assert.Equal(["resources[0] (Cluster 'x'): field 'typo_field': 'envoy.config.cluster.v3.Cluster' has no field 'typo_field'. Fix or remove that field."], error.Errors);
    }

    [Fact]
    public async Task Start_WithAMissingFile_SaysSoAndWhereItLooked()
    {
        var error = await Assert.ThrowsAsync<ResourceFileException>(() => RunningServer.StartAsync("--resources", _file + ".missing"));
        Assert.StartsWith("the file does not exist (working directory '", error.Errors.Single());
    }

    [Fact]
    public async Task LiveEdit_Invalid_IsRefusedAndTheLastGoodKeepsServing_ThenAFixIsServed()
    {
        await File.WriteAllTextAsync(_file, Clusters("a"));
        await using var server = await RunningServer.StartAsync("--resources", _file);
        var good = (await server.GetJsonAsync("/admin/xds/source")).GetProperty("servingVersion").GetString();

        await File.WriteAllTextAsync(_file, "[{\"@type\": \"" + Cluster + "\", \"name\": \"b\", \"type\": \"NOPE\"}]");
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/admin/xds/source")).GetProperty("lastErrors").GetArrayLength() == 1, "the edit is refused");
        var refused = await server.GetJsonAsync("/admin/xds/source");
        Assert.Equal(good, refused.GetProperty("servingVersion").GetString());
        Assert.Equal(["a"], server.Cache.Current("any").Get(TypeUrls.Cluster).Resources.Keys);

        await File.WriteAllTextAsync(_file, Clusters("a", "b"));
        await TestTimeouts.Eventually(async () => (await server.GetJsonAsync("/admin/xds/source")).GetProperty("servingVersion").GetString() != good, "the fixed file is served");
        Assert.Equal(["a", "b"], server.Cache.Current("any").Get(TypeUrls.Cluster).Resources.Keys);
    }
}
