using System.Security.Cryptography;
using System.Text;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.Ingester.Tests.Verification;

/// <summary>
/// One verifier serves every webhook of its endpoint, and keeps each secret's HMAC keyed from one
/// webhook to the next. What it computed for one webhook or secret must never leak into the next:
/// rotation, concurrent webhooks, malformed secrets and many secrets over time.
/// </summary>
public sealed class VerifierReuseTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static string Hex(string secret, string signed) => Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(signed)));

    private static WebhookRequest GitHub(string body, string secret) =>
        WebhookRequest.Of([KeyValuePair.Create("X-Hub-Signature-256", "sha256=" + Hex(secret, body))], Encoding.UTF8.GetBytes(body));

    private static WebhookRequest Stripe(string body, string secret)
    {
        var t = Now.ToUnixTimeSeconds();
        return WebhookRequest.Of([KeyValuePair.Create("Stripe-Signature", $"t={t},v1={Hex(secret, $"{t}.{body}")}")], Encoding.UTF8.GetBytes(body));
    }

    private static WebhookRequest StandardWebhooks(string body, byte[] key)
    {
        var t = Now.ToUnixTimeSeconds();
        var mac = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"msg_1.{t}.{body}")));
        return WebhookRequest.Of([KeyValuePair.Create("webhook-id", "msg_1"), KeyValuePair.Create("webhook-timestamp", $"{t}"), KeyValuePair.Create("webhook-signature", $"v1,{mac}")], Encoding.UTF8.GetBytes(body));
    }

    [Fact]
    public void ASecretRotatedOut_NoLongerVerifies_OnTheSameVerifier_AndItsSuccessorDoes()
    {
        var github = new GitHubVerifier();
        var stripe = new StripeVerifier();

        Assert.True(github.Verify(GitHub("{\"n\":1}", "old"), ["old"], Now).Verified);
        Assert.True(stripe.Verify(Stripe("{\"id\":\"evt_1\"}", "whsec_old"), ["whsec_old"], Now).Verified);

        Assert.Equal("signature_mismatch", github.Verify(GitHub("{\"n\":2}", "old"), ["new"], Now).ReasonCode);
        Assert.Equal("signature_mismatch", stripe.Verify(Stripe("{\"id\":\"evt_2\"}", "whsec_old"), ["whsec_new"], Now).ReasonCode);
        Assert.True(github.Verify(GitHub("{\"n\":3}", "new"), ["new"], Now).Verified);
        Assert.True(stripe.Verify(Stripe("{\"id\":\"evt_3\"}", "whsec_new"), ["whsec_new"], Now).Verified);
        // During the rotation both are active.
        Assert.True(github.Verify(GitHub("{\"n\":4}", "old"), ["new", "old"], Now).Verified);
        Assert.True(stripe.Verify(Stripe("{\"id\":\"evt_4\"}", "whsec_old"), ["whsec_new", "whsec_old"], Now).Verified);
    }

    [Fact]
    public void AfterAMismatch_TheNextWebhookIsHashedFromScratch()
    {
        var github = new GitHubVerifier();
        var tampered = WebhookRequest.Of([KeyValuePair.Create("X-Hub-Signature-256", "sha256=" + Hex("s", "{\"a\":1}"))], Encoding.UTF8.GetBytes("{\"a\":2}"));

        Assert.False(github.Verify(tampered, ["s"], Now).Verified);
        Assert.True(github.Verify(GitHub("{\"a\":2}", "s"), ["s"], Now).Verified);
        Assert.True(github.Verify(GitHub("", "s"), ["s"], Now).Verified);
    }

    [Fact]
    public void WebhooksVerifiedAtOnce_EachGetTheirOwnVerdict()
    {
        var github = new GitHubVerifier();
        var stripe = new StripeVerifier();
        var verdicts = new (bool GitHub, Verdict Stripe)[2_000];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();

        // Four threads of their own on the same verifiers, started together, with bodies large enough
        // (up to 32 KiB) that their hashing overlaps.
        using var start = new Barrier(4);
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = t; i < verdicts.Length; i += 4)
            {
                var body = $"{{\"id\":\"evt_{i}\",\"pad\":\"{new string((char)('a' + (i % 26)), i * 16 % 32_768)}\"}}";
                var secret = i % 3 == 0 ? "second" : "first";
                // Every fifth is signed with a secret no longer active.
                var signer = i % 5 == 0 ? "retired" : secret;
                try
                {
                    verdicts[i] = (github.Verify(GitHub(body, signer), ["first", "second"], Now).Verified, stripe.Verify(Stripe(body, signer), ["first", "second"], Now));
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                    return;
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(failures);
        Assert.All(verdicts.Select((v, i) => (i, v.GitHub, v.Stripe)), v =>
        {
            Assert.Equal(v.i % 5 != 0, v.GitHub);
            Assert.Equal(v.i % 5 != 0, v.Stripe.Verified);
            Assert.Equal(v.i % 5 != 0 ? $"evt_{v.i}" : null, v.Stripe.EventId);
        });
    }

    [Fact]
    public void ManyMoreSecretsThanItKeeps_AllStillVerify_OldAndNew()
    {
        var github = new GitHubVerifier();
        for (var round = 0; round < 2; round++)
        {
            for (var s = 0; s < 100; s++)
            {
                Assert.True(github.Verify(GitHub($"{{\"s\":{s}}}", $"secret-{s}"), [$"secret-{s}"], Now).Verified, $"secret-{s}, round {round}");
                Assert.False(github.Verify(GitHub($"{{\"s\":{s}}}", $"secret-{s}"), [$"secret-{s + 1}"], Now).Verified, $"secret-{s + 1} took secret-{s}'s signature, round {round}");
            }
        }
    }

    [Fact]
    public void StandardWebhooks_AMalformedSecretBesideAGoodOne_MatchesNothing_AndTheGoodOneStillVerifies()
    {
        var verifier = new StandardWebhooksVerifier();
        var key = RandomNumberGenerator.GetBytes(24);
        var good = "whsec_" + Convert.ToBase64String(key);

        Assert.True(verifier.Verify(StandardWebhooks("{\"n\":1}", key), ["whsec_not*base64", good], Now).Verified);
        Assert.Equal("signature_mismatch", verifier.Verify(StandardWebhooks("{\"n\":2}", key), ["whsec_not*base64"], Now).ReasonCode);
        Assert.True(verifier.Verify(StandardWebhooks("{\"n\":3}", key), [good], Now).Verified);
    }
}
