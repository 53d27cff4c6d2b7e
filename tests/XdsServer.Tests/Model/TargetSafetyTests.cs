using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Model;

/// <summary>
/// Targets an attacker with an editor's token would declare to make the edge fetch for them:
/// cloud metadata, link-local addresses, the edge's own ZenMesh and Envoy admin ports. Each is
/// refused naming the field; loopback needs an explicit allowLoopback.
/// </summary>
public sealed class TargetSafetyTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await RunningServer.StartAsync();
        await _server.PutOkAsync("edges/local", "{}");
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, string[] Errors)> PutTargetAsync(string spec)
    {
        using var response = await _server.Http.PutAsync("/api/v1/targets/t", new StringContent(spec, Encoding.UTF8, "application/json")).WithTimeout("PUT target");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, body.TryGetProperty("errors", out var errors) ? [.. errors.EnumerateArray().Select(e => e.GetProperty("message").GetString()!)] : []);
    }

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/iam/")]
    [InlineData("http://169.254.170.2/v2/credentials")]
    [InlineData("http://[fe80::1]/x")]
    [InlineData("http://[fd00:ec2::254]/latest/meta-data/")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1/")]
    [InlineData("http://0.0.0.0:9100/hooks")]
    [InlineData("http://[::ffff:169.254.169.254]/latest/")]
    public async Task ALinkLocalOrMetadataTarget_IsRefused_EvenWithAllowLoopback(string url)
    {
        var (status, errors) = await PutTargetAsync($$"""{"edge":"local","url":"{{url}}","allowLoopback":true}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        var error = Assert.Single(errors);
        Assert.StartsWith("targets/t: field 'url': ", error, StringComparison.Ordinal);
        Assert.Contains("link-local or cloud-metadata", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9100/hooks")]
    [InlineData("http://localhost:9100/hooks")]
    [InlineData("http://[::1]:9100/hooks")]
    [InlineData("http://127.8.9.10:9100/hooks")]
    public async Task ALoopbackTarget_NeedsAllowLoopback(string url)
    {
        var (refused, errors) = await PutTargetAsync($$"""{"edge":"local","url":"{{url}}"}""");
        var (allowed, _) = await PutTargetAsync($$"""{"edge":"local","url":"{{url}}","allowLoopback":true}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Equal($"targets/t: field 'url': is '{url}', on the edge's own host (loopback); set \"allowLoopback\": true if the target really runs beside the edge.", Assert.Single(errors));
        Assert.True(allowed is HttpStatusCode.Created or HttpStatusCode.OK);
    }

    [Fact]
    public async Task ATargetThatSkipsVerification_IsNamedInEveryStatusRead()
    {
        var (status, _) = await PutTargetAsync("""{"edge":"local","url":"https://hooks.example.com/in","tls":{"insecureSkipVerify":true}}""");
        Assert.Equal(HttpStatusCode.Created, status);

        var edge = (await _server.GetJsonAsync("/api/v1/status")).GetProperty("edges")[0];

        Assert.Equal(["t"], edge.GetProperty("insecureTargets").EnumerateArray().Select(t => t.GetString()));
    }

    [Theory]
    [InlineData("http://127.0.0.1:18000/")]
    [InlineData("http://127.0.0.1:18001/")]
    [InlineData("http://127.0.0.1:19000/status")]
    [InlineData("http://localhost:8081/hooks/default/x")]
    [InlineData("http://127.0.0.1:8082/replays")]
    [InlineData("http://127.0.0.1:8091/")]
    [InlineData("http://localhost:9901/config_dump")]
    [InlineData("http://127.0.0.1:10000/")]
    public async Task ZenMeshsOwnPorts_AndEnvoysAdmin_OnTheEdgesHost_AreAlwaysRefused(string url)
    {
        var (status, errors) = await PutTargetAsync($$"""{"edge":"local","url":"{{url}}","allowLoopback":true}""");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("a port of ZenMesh's own services or Envoy's admin on the edge's host", Assert.Single(errors), StringComparison.Ordinal);
    }
}
