using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Octokit.Webhooks;
using Octokit.Webhooks.AspNetCore;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.Ingester.Tests.Verification;

/// <summary>
/// GitHub's scheme against Octokit.Webhooks, an implementation written by others: the same requests
/// go to Octokit's own webhook endpoint (which checks X-Hub-Signature-256 before anything else) and to
/// our verifier, and the two must agree on every one: what Octokit accepts we accept, and what it
/// refuses (a changed byte, another secret, a signature cut short) we refuse.
/// </summary>
public sealed class OctokitAgreementTests : IAsyncLifetime
{
    private const string Secret = "It's a Secret to Everybody";

    // A ping as GitHub sends it when a webhook is created (Octokit reads every field it requires).
    private const string Ping = """{"zen":"Design for failure.","hook_id":109948940,"hook":{"type":"Repository","id":109948940,"name":"web","active":true,"events":["*"],"config":{"content_type":"json","insecure_ssl":"0","url":"https://hooks.example.com/github"},"updated_at":"2024-11-23T10:00:00Z","created_at":"2024-11-23T10:00:00Z","url":"https://api.github.com/repos/octo-org/octo-repo/hooks/109948940","test_url":"https://api.github.com/repos/octo-org/octo-repo/hooks/109948940/test","ping_url":"https://api.github.com/repos/octo-org/octo-repo/hooks/109948940/pings","deliveries_url":"https://api.github.com/repos/octo-org/octo-repo/hooks/109948940/deliveries","last_response":{"code":null,"status":"unused","message":null}}}""";

    private readonly DeliveriesSeen _seen = new();
    private WebApplication? _octokit;
    private Uri? _address;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<WebhookEventProcessor>(_seen);
        _octokit = builder.Build();
        _octokit.MapGitHubWebhooks("/github", Secret);
        await _octokit.StartAsync();
        _address = new Uri(_octokit.Urls.First());
    }

    public async Task DisposeAsync()
    {
        if (_octokit is not null)
        {
            await _octokit.DisposeAsync();
        }
    }

    private static string Sign(string secret, byte[] body) => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public static TheoryData<string, string, string, bool> Cases() => new()
    {
        // name, the body sent, the signature's header value (over what), whether it should verify
        { "as GitHub sends it", Ping, Sign(Secret, Encoding.UTF8.GetBytes(Ping)), true },
        { "pretty-printed, CRLF, non-ASCII", Ping.Replace(",\"hook\":", ",\r\n  \"hook\":", StringComparison.Ordinal).Replace("Design for failure.", "Désign for failure ✓", StringComparison.Ordinal), "" , true },
        { "a byte changed after signing", Ping.Replace("failure.", "failure!", StringComparison.Ordinal), Sign(Secret, Encoding.UTF8.GetBytes(Ping)), false },
        { "signed with another secret", Ping, Sign("another secret", Encoding.UTF8.GetBytes(Ping)), false },
        { "the signature cut short", Ping, Sign(Secret, Encoding.UTF8.GetBytes(Ping))[..^2], false },
        { "the SHA-1 header's prefix", Ping, "sha1=" + Sign(Secret, Encoding.UTF8.GetBytes(Ping))["sha256=".Length..], false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task GitHub_OctokitAndOurVerifier_AgreeOnWhatVerifies(string name, string body, string signature, bool verifies)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        // An empty signature in the cases means "the right one, over the body as sent".
        signature = signature.Length == 0 ? Sign(Secret, bytes) : signature;
        var delivery = Guid.NewGuid().ToString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/github") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("X-GitHub-Event", "ping");
        request.Headers.Add("X-GitHub-Delivery", delivery);
        request.Headers.Add(GitHubVerifier.Header, signature);

        using var http = new HttpClient { BaseAddress = _address };
        using var octokit = await http.SendAsync(request);
        var ours = new GitHubVerifier().Verify(WebhookRequest.Of([KeyValuePair.Create("X-GitHub-Event", "ping"), KeyValuePair.Create(GitHubVerifier.DeliveryHeader, delivery), KeyValuePair.Create(GitHubVerifier.Header, signature)], bytes), ["an old secret", Secret], DateTimeOffset.UtcNow);

        // Octokit answers 200 once it verified and read the event, 400 when the signature does not match.
        Assert.Equal(verifies ? HttpStatusCode.OK : HttpStatusCode.BadRequest, octokit.StatusCode);
        Assert.Equal(verifies, _seen.Deliveries.Contains(delivery));
        Assert.True(verifies == ours.Verified, $"{name}: Octokit {(verifies ? "accepted" : "refused")} it, we said {ours.ReasonCode ?? "verified"} ({ours.Detail})");
        Assert.Equal(verifies ? delivery : null, ours.EventId);
    }

    /// <summary>Octokit's processor: records each delivery it verified and read.</summary>
    private sealed class DeliveriesSeen : WebhookEventProcessor
    {
        public ConcurrentBag<string> Deliveries { get; } = [];

        public override ValueTask ProcessWebhookAsync(WebhookHeaders headers, WebhookEvent webhookEvent, CancellationToken cancellationToken = default)
        {
            Deliveries.Add(headers.Delivery!);
            return ValueTask.CompletedTask;
        }
    }
}
