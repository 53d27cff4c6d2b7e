using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Intake;

/// <summary>
/// POST /hooks/{tenant}/{endpoint} on the real ingester: verified webhooks are stored before the
/// 2xx and once only; every refusal has its status and reason; a restart keeps both the events and
/// the memory of what was delivered.
/// </summary>
public sealed class HookEndpointTests : IAsyncLifetime, IDisposable
{
    private const string Secret = "It's a Secret to Everybody";
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-ingester-").FullName;
    private readonly string _secretsDir = Directory.CreateTempSubdirectory("zenmesh-ingester-secrets-").FullName;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "gh-secret"), $"whsec_rotated_in_next_week\n{Secret}\n");
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
        Directory.Delete(_secretsDir, recursive: true);
    }

    public void Dispose() => _http?.Dispose();

    private Task StartAsync(params string[] extra) => StartAsync(null, extra);

    private async Task StartAsync(TimeProvider? time, params string[] extra)
    {
        // No xDS here: these tests set the endpoint config themselves.
        _app = IngesterApp.Build([.. IngesterPorts.Args, "--data-dir", _dataDir, "--secrets-dir", _secretsDir, "--xds", "http://127.0.0.1:9", .. extra], b =>
        {
            b.Logging.SetMinimumLevel(LogLevel.Warning);
            if (time is not null)
            {
                b.Services.AddSingleton(time);
            }
        });
        _app.Services.GetRequiredService<EndpointPolicies>().Replace([
            new EndpointPolicy { Tenant = "default", Endpoint = "gh", Provider = "github", SecretRef = "gh-secret", MaxBodyBytes = 4096 },
            new EndpointPolicy { Tenant = "default", Endpoint = "unsigned", Provider = "none" },
            new EndpointPolicy { Tenant = "default", Endpoint = "lost-secret", Provider = "github", SecretRef = "not-on-this-edge" },
        ]);
        await _app.StartAsync();
        var address = IngesterPorts.Hooks(_app).ToString();
        _http = new HttpClient { BaseAddress = new Uri(address) };
    }

    private Task RestartAsync(params string[] extra) => RestartAsync(null, extra);

    private async Task RestartAsync(TimeProvider? time, params string[] extra)
    {
        _http.Dispose();
        await _app.DisposeAsync();
        await StartAsync(time, extra);
    }

    private Task<HttpResponseMessage> GitHubAsync(string body, string delivery, string secret = Secret, string endpoint = "gh")
    {
        return _http.SendAsync(GitHubWebhook.Request($"/hooks/default/{endpoint}", body, delivery, secret));
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private IEventStore Store => _app.Services.GetRequiredService<IEventStore>();

    [Fact]
    public async Task AVerifiedWebhook_IsStored_ThenARedeliveryIsAnIdempotentReplay()
    {
        using var first = await GitHubAsync("""{"ref":"main"}""", "delivery-1");
        Assert.True(first.StatusCode == HttpStatusCode.OK, await first.Content.ReadAsStringAsync());
        var stored = await JsonAsync(first);
        var id = stored.GetProperty("id").GetString()!;
        Assert.False(stored.GetProperty("duplicate").GetBoolean());
        Assert.Equal("""{"ref":"main"}""", Encoding.UTF8.GetString(Store.Body(id)!));

        using var again = await GitHubAsync("""{"ref":"main"}""", "delivery-1");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replay").Single());
        var replayed = await JsonAsync(again);
        Assert.Equal((id, true), (replayed.GetProperty("id").GetString(), replayed.GetProperty("duplicate").GetBoolean()));
        Assert.Equal("application/json; charset=utf-8", again.Content.Headers.ContentType?.ToString());

        // Once answered as a replay, a redelivery is answered from memory: the same id again.
        using var third = await GitHubAsync("""{"ref":"main"}""", "delivery-1");
        Assert.Equal("true", third.Headers.GetValues("Idempotent-Replay").Single());
        Assert.Equal(id, (await JsonAsync(third)).GetProperty("id").GetString());
        Assert.Equal(1, Store.Count("default", "gh"));
    }

    [Fact]
    public async Task ACapturedGitHubWebhook_ResentWithAFreshDeliveryId_IsADuplicate()
    {
        // GitHub signs the body, not X-GitHub-Delivery: an attacker who captured one request can
        // set any delivery id on it and the signature still holds.
        using var first = await GitHubAsync("""{"ref":"main","after":"abc"}""", "delivery-real");
        using var replayed = await GitHubAsync("""{"ref":"main","after":"abc"}""", "delivery-forged-" + Guid.NewGuid());

        Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
        Assert.Equal("true", replayed.Headers.GetValues("Idempotent-Replay").Single());
        Assert.Equal((await JsonAsync(first)).GetProperty("id").GetString(), (await JsonAsync(replayed)).GetProperty("id").GetString());
        Assert.Equal(1, Store.Count("default", "gh"));
    }

    [Fact]
    public async Task ASecretWithNoKey_IsRefusedWhenLoaded_As503_NotAcceptedOrBlamedOnTheSender()
    {
        await File.WriteAllTextAsync(Path.Combine(_secretsDir, "sw-secret"), "whsec_\n");
        _app.Services.GetRequiredService<EndpointPolicies>().Replace([new EndpointPolicy { Tenant = "default", Endpoint = "sw", Provider = "standard-webhooks", SecretRef = "sw-secret" }]);
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // Signed with the empty key the secret file yields: anyone can make this signature.
        var mac = Convert.ToBase64String(HMACSHA256.HashData(Array.Empty<byte>(), Encoding.UTF8.GetBytes($"msg_1.{t}.{{}}")));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hooks/default/sw") { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", "msg_1");
        request.Headers.Add("webhook-timestamp", $"{t}");
        request.Headers.Add("webhook-signature", $"v1,{mac}");

        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal("secret_unusable", body.GetProperty("reason").GetString());
        Assert.Equal("the secret 'sw-secret' this endpoint verifies with holds no usable key (a Standard Webhooks secret is 'whsec_' and the key in base64); fix the file on this edge, and the provider's retries will succeed", body.GetProperty("detail").GetString());
        Assert.Equal(0, Store.Count("default", "sw"));
    }

    [Fact]
    public async Task WithinTheDedupWindow_ARedeliveryIsADuplicate_AndAfterItANewEvent_OnTheInjectedClock()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await RestartAsync(clock, "--Ingester:DedupWindow", "01:00:00");
        using var first = await GitHubAsync("""{"ref":"main"}""", "delivery-window");
        var id = (await JsonAsync(first)).GetProperty("id").GetString();

        clock.Advance(TimeSpan.FromMinutes(59));
        using var within = await GitHubAsync("""{"ref":"main"}""", "delivery-window");
        Assert.True(within.Headers.Contains("Idempotent-Replay"), "a redelivery inside the window is a duplicate");
        Assert.Equal(id, (await JsonAsync(within)).GetProperty("id").GetString());

        clock.Advance(TimeSpan.FromMinutes(2));
        using var after = await GitHubAsync("""{"ref":"main"}""", "delivery-window");
        Assert.False(after.Headers.Contains("Idempotent-Replay"), "a redelivery after the window is a new event");
        Assert.NotEqual(id, (await JsonAsync(after)).GetProperty("id").GetString());
        Assert.Equal(2, Store.Count("default", "gh"));
    }

    [Fact]
    public async Task ConcurrentRedeliveries_AreStoredOnce()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => GitHubAsync("""{"ref":"dev"}""", "delivery-burst")));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Single((await Task.WhenAll(responses.Select(JsonAsync))).Select(j => j.GetProperty("id").GetString()).Distinct());
        Assert.Equal(1, Store.Count("default", "gh"));
    }

    [Fact]
    public async Task AfterARestart_EventsAreStillThere_AndARedeliveryIsStillADuplicate()
    {
        using var first = await GitHubAsync("""{"ref":"main"}""", "delivery-durable");
        var id = (await JsonAsync(first)).GetProperty("id").GetString();

        await RestartAsync();

        using var again = await GitHubAsync("""{"ref":"main"}""", "delivery-durable");
        Assert.Equal("true", again.Headers.GetValues("Idempotent-Replay").Single());
        Assert.Equal(id, (await JsonAsync(again)).GetProperty("id").GetString());
        Assert.Equal(1, Store.Count("default", "gh"));
    }

    [Fact]
    public async Task EveryRefusal_HasItsStatusAndReason_AndIsCounted()
    {
        using var forged = await GitHubAsync("{}", "d-forged", secret: "guessed");
        Assert.Equal((HttpStatusCode.Unauthorized, "signature_mismatch"), (forged.StatusCode, (await JsonAsync(forged)).GetProperty("reason").GetString()));

        using var unknown = await GitHubAsync("{}", "d-unknown", endpoint: "nope");
        Assert.Equal((HttpStatusCode.NotFound, "unknown_endpoint"), (unknown.StatusCode, (await JsonAsync(unknown)).GetProperty("reason").GetString()));

        using var large = await GitHubAsync(new string('x', 5000), "d-large");
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "body_too_large"), (large.StatusCode, (await JsonAsync(large)).GetProperty("reason").GetString()));

        using var noSecret = await GitHubAsync("{}", "d-secret", endpoint: "lost-secret");
        Assert.Equal((HttpStatusCode.ServiceUnavailable, "secret_missing"), (noSecret.StatusCode, (await JsonAsync(noSecret)).GetProperty("reason").GetString()));
        Assert.DoesNotContain(Secret, await noSecret.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var status = JsonDocument.Parse(await _http.GetStringAsync("/status")).RootElement.GetProperty("outcomes");
        Assert.Equal(1, status.GetProperty("signature_mismatch").GetInt64());
        Assert.Equal(1, status.GetProperty("unknown_endpoint").GetInt64());
        Assert.Equal(1, status.GetProperty("body_too_large").GetInt64());
        Assert.Equal(0, Store.Count("default", "gh"));
    }

    [Fact]
    public async Task Metrics_CountAcceptedDuplicatesAndRefusalsByReason_AndTimeTheStore()
    {
        (await GitHubAsync("{}", "d-1")).Dispose();
        (await GitHubAsync("{}", "d-1")).Dispose();
        (await GitHubAsync("{}", "d-forged", secret: "guessed")).Dispose();
        (await GitHubAsync("{}", "d-2", endpoint: "nope")).Dispose();

        using var response = await _http.GetAsync("/metrics");
        var lines = (await response.Content.ReadAsStringAsync()).Split('\n');

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.Contains("# TYPE zenmesh_ingester_rejected_total counter", lines);
        Assert.Contains("zenmesh_ingester_accepted_total{edge=\"default/local\"} 1", lines);
        Assert.Contains("zenmesh_ingester_duplicates_total{edge=\"default/local\"} 1", lines);
        Assert.Contains("zenmesh_ingester_rejected_total{edge=\"default/local\",reason=\"signature_mismatch\"} 1", lines);
        Assert.Contains("zenmesh_ingester_rejected_total{edge=\"default/local\",reason=\"unknown_endpoint\"} 1", lines);
        Assert.Contains("zenmesh_ingester_store_wait_seconds_count{edge=\"default/local\"} 2", lines);
        Assert.Contains("zenmesh_ingester_store_wait_seconds_bucket{edge=\"default/local\",le=\"+Inf\"} 2", lines);
        Assert.Contains("zenmesh_ingester_store_commit_seconds_count{edge=\"default/local\"} 1", lines);
        Assert.Contains("zenmesh_ingester_queue_depth{edge=\"default/local\"} 0", lines);
    }

    [Fact]
    public async Task AnUnsignedEndpoint_DeduplicatesByContent()
    {
        using var first = await _http.PostAsync("/hooks/default/unsigned", new StringContent("""{"n":1}""", Encoding.UTF8, "application/json"));
        using var same = await _http.PostAsync("/hooks/default/unsigned", new StringContent("""{"n":1}""", Encoding.UTF8, "application/json"));
        using var other = await _http.PostAsync("/hooks/default/unsigned", new StringContent("""{"n":2}""", Encoding.UTF8, "application/json"));

        Assert.Equal("true", same.Headers.GetValues("Idempotent-Replay").Single());
        Assert.False(other.Headers.Contains("Idempotent-Replay"));
        Assert.Equal(2, Store.Count("default", "unsigned"));
    }

    [Fact]
    public async Task AboveTheHighWaterMark_TheAnswerIs503WithRetryAfter_AndNothingIsStored()
    {
        await RestartAsync("--Ingester:MaxPending", "0");

        using var response = await GitHubAsync("{}", "d-busy");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("overloaded", (await JsonAsync(response)).GetProperty("reason").GetString());
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter!.Delta);
        Assert.Equal(0, Store.Count("default", "gh"));
    }
}
