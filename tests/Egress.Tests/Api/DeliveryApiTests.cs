using System.Net;
using System.Text.Json;
using ZenMesh.Egress.Storage;
using ZenMesh.Egress.Tests.Infrastructure;

namespace ZenMesh.Egress.Tests.Api;

/// <summary>The delivery log over HTTP: filters, one delivery with its attempts, paging, and 400s that say what to fix.</summary>
public sealed class DeliveryApiTests
{
    [Fact]
    public async Task DeliveryLog_FiltersByFlowAndState_AndShowsEveryAttempt()
    {
        await using var ok = await TestTarget.StartAsync(TestTarget.Status(200));
        // Fails the first request of each delivery, whichever order they come in.
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>();
        await using var failing = await TestTarget.StartAsync((n, http) => TestTarget.Status(seen.TryAdd(http.Request.Headers["webhook-id"].ToString(), true) ? 502 : 200)(n, http));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("to-ok", ok.Url), Mesh.Flow("to-flaky", failing.Url, TimeSpan.FromMilliseconds(100)));

        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await mesh.SendAsync($$"""{"type":"t","n":{{i}}}"""));
        }
        foreach (var id in ids)
        {
            await mesh.WaitForAsync(id, "to-ok", DeliveryStates.Delivered);
        }
        await mesh.WaitForAsync(ids[0], "to-flaky", DeliveryStates.Delivered);

        var okPage1 = await mesh.GetJsonAsync("/deliveries?flow=to-ok&state=delivered&limit=2");
        Assert.Equal(2, okPage1.GetProperty("deliveries").GetArrayLength());
        var okPage2 = await mesh.GetJsonAsync($"/deliveries?flow=to-ok&state=delivered&limit=2&after={okPage1.GetProperty("next").GetString()}");
        Assert.Single(okPage2.GetProperty("deliveries").EnumerateArray());
        Assert.Equal(JsonValueKind.Null, okPage2.GetProperty("next").ValueKind);

        var byEvent = await mesh.GetJsonAsync($"/deliveries?event={ids[0]}");
        Assert.Equal(["to-flaky", "to-ok"], byEvent.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("flow").GetString()).Order());

        var detail = await mesh.GetJsonAsync($"/deliveries/{ids[0]}/to-flaky");
        var attempts = detail.GetProperty("attempts").EnumerateArray().ToList();
        Assert.Equal([502, 200], attempts.Select(a => a.GetProperty("status").GetInt32()));
        Assert.Equal("target", attempts[0].GetProperty("fault").GetString());
        Assert.Equal("direct", attempts[0].GetProperty("via").GetString());
        Assert.True(attempts[1].GetProperty("latencyMs").GetDouble() >= 0);
    }

    [Fact]
    public async Task DeadLetters_AreSeparated_ByWhoseFaultTheFailureWas()
    {
        await using var failing = await TestTarget.StartAsync(TestTarget.Status(500));
        var theirs = Mesh.ShortLived("theirs", failing.Url);
        var ours = Mesh.ShortLived("ours", failing.Url);
        // The signing secret is missing at the edge: nothing can be sent, and that is ZenMesh's failure, not the customer's.
        ours.SigningSecretRef = "absent";
        await using var mesh = await Mesh.StartAsync(theirs, ours);
        var id = await mesh.SendAsync();
        await mesh.WaitForAsync(id, "theirs", DeliveryStates.Dead);
        await mesh.WaitForAsync(id, "ours", DeliveryStates.Dead);

        string[] Flows(JsonElement page) => [.. page.GetProperty("deliveries").EnumerateArray().Select(d => d.GetProperty("flow").GetString()!)];
        Assert.Equal(["ours"], Flows(await mesh.GetJsonAsync("/deliveries?state=dead&fault=zenmesh")));
        Assert.Equal(["theirs"], Flows(await mesh.GetJsonAsync("/deliveries?state=dead&fault=target")));
        Assert.Equal(["ours", "theirs"], Flows(await mesh.GetJsonAsync($"/deliveries?state=dead&target={Uri.EscapeDataString(failing.Url.ToString())}")).Order());
        Assert.Equal(["theirs"], Flows(await mesh.GetJsonAsync("/deliveries?target=theirs-target")));
    }

    [Theory]
    [InlineData("fault=mine", "fault 'mine'", "zenmesh")]
    [InlineData("target=elsewhere", "target 'elsewhere'", "GET /status")]
    [InlineData("state=lost", "state 'lost'", "pending, delivered, dead")]
    [InlineData("since=yesterday", "since 'yesterday'", "ISO 8601")]
    [InlineData("limit=5000", "limit '5000'", "1 to 1000")]
    [InlineData("after=-3", "after '-3'", "next")]
    public async Task BadFilter_Is400_NamingTheParameterAndWhatItTakes(string query, string names, string hint)
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("f", target.Url));

        using var response = await mesh.Api.GetAsync("/deliveries?" + query);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString();
        Assert.Contains(names, detail);
        Assert.Contains(hint, detail);
    }

    [Fact]
    public async Task UnknownDelivery_Is404_SayingHowToList()
    {
        await using var target = await TestTarget.StartAsync(TestTarget.Status(200));
        await using var mesh = await Mesh.StartAsync(Mesh.Flow("f", target.Url));

        using var response = await mesh.Api.GetAsync("/deliveries/ev_nope/f");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("GET /deliveries?flow=f", await response.Content.ReadAsStringAsync());
    }
}
