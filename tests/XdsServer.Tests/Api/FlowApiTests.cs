using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Envoy.Config.Cluster.V3;
using ZenMesh.Xds.Resources;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Api;

/// <summary>The Flow API contract: status codes, problem bodies, ETags, dry runs, and config reaching the edge over ADS.</summary>
public sealed class FlowApiTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync() => _server = await RunningServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<HttpResponseMessage> PutAsync(string path, string json, Action<HttpRequestMessage>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/v1/{path}") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        headers?.Invoke(request);
        return await _server.Http.SendAsync(request).WithTimeout($"PUT {path}");
    }

    private async Task MinimalExampleAsync()
    {
        foreach (var (path, body) in new[]
        {
            ("edges/local", """{"mode":"vm"}"""),
            ("endpoints/github-main", """{"edge":"local","provider":"github","secretRef":"github-main"}"""),
            ("targets/orders", """{"edge":"local","allowLoopback":true,"url":"http://127.0.0.1:9100/hooks"}"""),
            ("flows/github-to-orders", """{"endpoint":"github-main","target":"orders","retry":{"retries":2,"perTryTimeout":"2s"},"maxInFlight":64}"""),
        })
        {
            using var response = await PutAsync(path, body);
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string[] Messages(JsonElement problem) => [.. problem.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("message").GetString()!)];

    [Fact]
    public async Task MinimalBodies_AreAccepted_AndTheEdgesEnvoyReceivesTheCompiledConfigOverAds()
    {
        await MinimalExampleAsync();

        await using var envoy = _server.Sotw("default/local");
        await envoy.RequestAsync(TypeUrls.Listener);
        Assert.Equal(["zenmesh-egress", "zenmesh-ingress"], FakeSotwClient.Names(await envoy.ReceiveAsync(TypeUrls.Listener)));
        await envoy.RequestAsync(TypeUrls.Cluster);
        var clusters = (await envoy.ReceiveAsync(TypeUrls.Cluster)).Resources.Select(r => r.Unpack<Cluster>()).ToDictionary(c => c.Name);
        Assert.Equal(["flow-github-to-orders", "zenmesh-ingester"], clusters.Keys.Order());
        Assert.Equal(64u, clusters["flow-github-to-orders"].CircuitBreakers.Thresholds[0].MaxRequests);
    }

    [Fact]
    public async Task Put_InvalidFlow_Is422ListingEveryProblem_AndChangesNothing()
    {
        await MinimalExampleAsync();
        using var response = await PutAsync("flows/broken", """{"endpoint":"nope","target":"orders","retry":{"retries":11,"retryOn":["sometimes"]},"maxInFlight":0}""");

        var problem = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("The change to flows/broken was refused; nothing was changed. Fix every problem listed.", problem.GetProperty("detail").GetString());
        Assert.Equal(
        [
            "flows/broken: field 'endpoint': names endpoints/nope, which does not exist; create it first or fix the name.",
            "flows/broken: field 'retry.retries': is 11; use 0 to 10 (the egress redelivers later on its own schedule).",
            "flows/broken: field 'retry.retryOn': has 'sometimes'; use any of 5xx, gateway-error, reset, connect-failure, envoy-ratelimited, retriable-4xx, refused-stream, retriable-status-codes, http3-post-connect-failure.",
            "flows/broken: field 'maxInFlight': is 0; use 1 or more.",
        ], Messages(problem));
        using var get = await _server.Http.GetAsync("/api/v1/flows/broken");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
    }

    [Fact]
    public async Task Put_MalformedBody_Is400NamingTheField()
    {
        using var badDuration = await PutAsync("targets/t", """{"edge":"local","url":"http://x:1/","connectTimeout":"soon"}""");
        Assert.Equal(["targets/t: field 'connectTimeout': 'soon' is not a duration; write it like \"500ms\", \"2s\", \"5m\" or \"1h30m\"."], Messages(await ProblemAsync(badDuration, HttpStatusCode.BadRequest)));

        using var unknownField = await PutAsync("edges/e", """{"mode":"vm","colour":"blue"}""");
        var problem = await ProblemAsync(unknownField, HttpStatusCode.BadRequest);
        Assert.StartsWith("edges/e: field 'colour': ", Messages(problem)[0]);
    }

    [Fact]
    public async Task Put_InvalidName_UnknownKind_AndMissingResource_AreClear()
    {
        using var badName = await PutAsync("edges/Not_Valid", "{}");
        Assert.Equal("'Not_Valid' is not a valid Edge name; use lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters.", (await ProblemAsync(badName, HttpStatusCode.BadRequest)).GetProperty("detail").GetString());

        using var badKind = await PutAsync("widgets/w", "{}");
        Assert.Equal("'/api/v1/widgets' is not a kind of resource; use edges, endpoints, targets or flows.", (await ProblemAsync(badKind, HttpStatusCode.NotFound)).GetProperty("detail").GetString());

        using var missing = await _server.Http.GetAsync("/api/v1/flows/none");
        Assert.Equal("flows/none does not exist in tenant 'default'.", (await ProblemAsync(missing, HttpStatusCode.NotFound)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task IfMatch_WithAStaleETag_Is412_WithTheCurrentOneItSucceeds()
    {
        using var created = await PutAsync("edges/local", """{"mode":"vm"}""");
        var etag = created.Headers.ETag!.ToString();
        using var changed = await PutAsync("edges/local", """{"mode":"kubernetes"}""", r => r.Headers.TryAddWithoutValidation("If-Match", etag));
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag!.ToString());

        using var stale = await PutAsync("edges/local", """{"mode":"vm"}""", r => r.Headers.TryAddWithoutValidation("If-Match", etag));
        var problem = await ProblemAsync(stale, HttpStatusCode.PreconditionFailed);
        Assert.StartsWith($"If-Match {etag} does not match the current ETag {changed.Headers.ETag}", problem.GetProperty("detail").GetString());

        using var createOnly = await PutAsync("edges/local", "{}", r => r.Headers.TryAddWithoutValidation("If-None-Match", "*"));
        await ProblemAsync(createOnly, HttpStatusCode.PreconditionFailed);
        using var get = await _server.Http.GetAsync("/api/v1/edges/local");
        Assert.Equal(changed.Headers.ETag, get.Headers.ETag);
    }

    [Fact]
    public async Task DryRun_ShowsTheCompiledEnvoyResourcesAndErrors_WithoutApplying()
    {
        await MinimalExampleAsync();
        using var dry = await PutAsync("flows/github-to-orders?dryRun=true", """{"endpoint":"github-main","target":"orders","maxInFlight":7}""");
        var body = await dry.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(body.GetProperty("valid").GetBoolean());
        var cluster = body.GetProperty("envoy").GetProperty("default/local").EnumerateArray().Single(r => r.GetProperty("name").GetString() == "flow-github-to-orders");
        Assert.Equal(7, cluster.GetProperty("circuit_breakers").GetProperty("thresholds")[0].GetProperty("max_requests").GetInt32());

        var stored = await _server.GetJsonAsync("/api/v1/flows/github-to-orders");
        Assert.Equal(64, stored.GetProperty("maxInFlight").GetInt32());

        using var invalid = await PutAsync("flows/x?dryRun=true", """{"endpoint":"github-main","target":"missing"}""");
        var errors = await invalid.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(errors.GetProperty("valid").GetBoolean());
        Assert.Equal(["flows/x: field 'target': names targets/missing, which does not exist; create it first or fix the name."], errors.GetProperty("errors").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Delete_OfAReferencedEndpoint_Is409_AfterItsFlowGoesItIs204()
    {
        await MinimalExampleAsync();
        using var inUse = await _server.Http.DeleteAsync("/api/v1/endpoints/github-main");
        var problem = await ProblemAsync(inUse, HttpStatusCode.Conflict);
        Assert.Equal("flows/github-to-orders", problem.GetProperty("errors")[0].GetProperty("resource").GetString());

        using var flow = await _server.Http.DeleteAsync("/api/v1/flows/github-to-orders");
        Assert.Equal(HttpStatusCode.NoContent, flow.StatusCode);
        using var endpoint = await _server.Http.DeleteAsync("/api/v1/endpoints/github-main");
        Assert.Equal(HttpStatusCode.NoContent, endpoint.StatusCode);
        var list = await _server.GetJsonAsync("/api/v1/endpoints");
        Assert.Equal(0, list.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task FlowEnvoyView_ShowsItsClusterAndRoute()
    {
        await MinimalExampleAsync();
        var view = await _server.GetJsonAsync("/api/v1/flows/github-to-orders/envoy");

        Assert.Equal("default/local", view.GetProperty("node").GetString());
        Assert.Equal("flow-github-to-orders", view.GetProperty("cluster").GetProperty("name").GetString());
        var route = view.GetProperty("route");
        Assert.Equal("github-to-orders", route.GetProperty("match").GetProperty("headers")[0].GetProperty("string_match").GetProperty("exact").GetString());
        Assert.Equal(2, route.GetProperty("route").GetProperty("retry_policy").GetProperty("num_retries").GetInt32());
        Assert.Equal("2s", route.GetProperty("route").GetProperty("retry_policy").GetProperty("per_try_timeout").GetString());
    }

    [Fact]
    public async Task ZenMeshPolicies_AreServedOverAds_ToTheEdgesDataPlaneServices()
    {
        await MinimalExampleAsync();

        await using var egress = _server.Delta("default/local");
        await egress.SubscribeAsync(TypeUrls.FlowPolicy, "default/github-to-orders");
        var response = await egress.ReceiveAsync(TypeUrls.FlowPolicy);
        var policy = Assert.Single(response.Resources).Resource_.Unpack<ZenMesh.Contracts.V1.FlowPolicy>();
        Assert.Equal(("github-to-orders", "http://127.0.0.1:9100/hooks", 64u), (policy.Flow, policy.TargetUrl, policy.MaxInFlight));

        await egress.SubscribeAsync(TypeUrls.EndpointPolicy, "default/github-main");
        var endpoint = (await egress.ReceiveAsync(TypeUrls.EndpointPolicy)).Resources.Single().Resource_.Unpack<ZenMesh.Contracts.V1.EndpointPolicy>();
        Assert.Equal("github-to-orders", endpoint.Flows.Single().Flow);
    }

    [Fact]
    public async Task IfMatch_ConcurrentWritersWithTheSameETag_ExactlyOneWins()
    {
        using var created = await PutAsync("edges/contended", """{"mode":"vm"}""");
        var etag = created.Headers.ETag!.ToString();

        var writers = Enumerable.Range(0, 20).Select(i => PutAsync("edges/contended", $$"""{"ingesterAddress":"127.0.0.1:{{9000 + i}}"}""", r => r.Headers.TryAddWithoutValidation("If-Match", etag)));
        var responses = await Task.WhenAll(writers);

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(19, responses.Count(r => r.StatusCode == HttpStatusCode.PreconditionFailed));
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
