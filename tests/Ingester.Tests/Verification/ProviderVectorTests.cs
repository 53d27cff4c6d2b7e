using System.Security.Cryptography;
using System.Text;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Verification;
using ZenMesh.Secrets;

namespace ZenMesh.Ingester.Tests.Verification;

/// <summary>
/// Each provider's scheme against signatures made by others: published test vectors (Standard
/// Webhooks' library vector, GitHub's and Slack's documented examples) and Stripe.net's own
/// signature computation. Then rotation, replay windows, tampering and malformed headers.
/// </summary>
public sealed class ProviderVectorTests
{
    private static WebhookRequest Request(string body, params (string Name, string Value)[] headers) =>
        WebhookRequest.Of(headers.Select(h => KeyValuePair.Create(h.Name, h.Value)), Encoding.UTF8.GetBytes(body));

    [Fact]
    public void StandardWebhooks_TheLibraryVector_Verifies()
    {
        var request = Request("""{"test": 2432232314}""", ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330"), ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));

        var verdict = new StandardWebhooksVerifier().Verify(request, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], DateTimeOffset.FromUnixTimeSeconds(1614265330));

        Assert.True(verdict.Verified, verdict.Detail);
        Assert.Equal("msg_p5jXN8AQM9LWM0D4loKWxJek", verdict.EventId);
    }

    [Fact]
    public void StandardWebhooks_SeveralSignatures_AnyMayMatch_AndALateOneIsStale()
    {
        var request = Request("""{"test": 2432232314}""", ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"), ("webhook-timestamp", "1614265330"), ("webhook-signature", "v1,bm90IGl0 v2,ignored v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        var at = DateTimeOffset.FromUnixTimeSeconds(1614265330);

        Assert.True(new StandardWebhooksVerifier().Verify(request, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], at).Verified);
        var late = new StandardWebhooksVerifier().Verify(request, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], at.AddSeconds(301));
        Assert.Equal(("stale_timestamp", "the webhook-timestamp timestamp is 301 s old; at most 300 s is accepted (replay protection)"), (late.ReasonCode, late.Detail));
    }

    [Fact]
    public void GitHub_TheDocumentedExample_Verifies_WithTheDeliveryAsId()
    {
        var request = Request("Hello, World!", ("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"), ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"));

        var verdict = new GitHubVerifier().Verify(request, ["It's a Secret to Everybody"], DateTimeOffset.UtcNow);

        Assert.True(verdict.Verified, verdict.Detail);
        Assert.Equal("72d3162e-cc78-11e3-81ab-4c9367dc0958", verdict.EventId);
    }

    [Fact]
    public void Slack_TheDocumentedExample_Verifies()
    {
        const string body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        var request = Request(body, ("X-Slack-Request-Timestamp", "1531420618"), ("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"));

        var verdict = new SlackVerifier().Verify(request, ["8f742231b10e8888abcd99yyyzzz85a5"], DateTimeOffset.FromUnixTimeSeconds(1531420618));

        Assert.True(verdict.Verified, verdict.Detail);
    }

    [Fact]
    public void Stripe_ASignatureComputedByStripeNet_Verifies_WithTheEventIdFromTheBody()
    {
        const string secret = "whsec_test_secret_for_zenmesh";
        const string body = """{"id":"evt_1NZ9ZenMesh","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}""";
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // Stripe.net makes the header: "t=<timestamp>,v1=<signature>", exactly as Stripe sends it.
        var header = Stripe.EventUtility.GenerateSignatureHeader(body, secret, timestamp);
        // Stripe.net itself accepts the header it signed: the vector is Stripe's scheme, not ours.
        Stripe.EventUtility.ValidateSignature(body, header, secret, 300);

        var verdict = new StripeVerifier().Verify(Request(body, ("Stripe-Signature", header)), ["whsec_old_rotated_out", secret], DateTimeOffset.FromUnixTimeSeconds(timestamp));

        Assert.True(verdict.Verified, verdict.Detail);
        Assert.Equal("evt_1NZ9ZenMesh", verdict.EventId);
    }

    [Fact]
    public void Stripe_ATamperedBody_IsAMismatch_AndAnOldTimestampIsStale()
    {
        const string secret = "whsec_test_secret_for_zenmesh";
        const string body = """{"id":"evt_1","type":"charge.succeeded"}""";
        var timestamp = 1_700_000_000L;
        var signature = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{body}")));
        var at = DateTimeOffset.FromUnixTimeSeconds(timestamp);

        var tampered = new StripeVerifier().Verify(Request(body.Replace("charge", "refund", StringComparison.Ordinal), ("Stripe-Signature", $"t={timestamp},v1={signature}")), [secret], at);
        Assert.Equal(("signature_mismatch", "no v1 signature in Stripe-Signature matches any active secret"), (tampered.ReasonCode, tampered.Detail));

        var replayed = new StripeVerifier().Verify(Request(body, ("Stripe-Signature", $"t={timestamp},v1={signature}")), [secret], at.AddMinutes(10));
        Assert.Equal("stale_timestamp", replayed.ReasonCode);
    }

    [Theory]
    [InlineData("github", "missing_signature", "the X-Hub-Signature-256 header is missing")]
    [InlineData("stripe", "missing_signature", "the Stripe-Signature header is missing")]
    [InlineData("standard-webhooks", "missing_signature", "the webhook-signature header is missing")]
    [InlineData("shopify", "missing_signature", "the X-Shopify-Hmac-SHA256 header is missing")]
    [InlineData("slack", "missing_signature", "the X-Slack-Signature header is missing")]
    [InlineData("hmac-sha256", "missing_signature", "the X-Signature header is missing")]
    public void AnUnsignedRequest_IsRefusedWithAReason_ThatNamesNoSecret(string provider, string code, string detail)
    {
        var verdict = Verifiers.For(provider)!.Verify(Request("{}"), ["s3cr3t-value"], DateTimeOffset.UtcNow);

        Assert.Equal((false, code, detail), (verdict.Verified, verdict.ReasonCode, verdict.Detail));
        Assert.DoesNotContain("s3cr3t", verdict.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Shopify_AndGenericHmac_VerifyTheRawBody_InBase64AndHex()
    {
        const string body = """{"order":1}""";
        var mac = HMACSHA256.HashData("shpss_key"u8, Encoding.UTF8.GetBytes(body));

        Assert.Equal("order-created-1", new ShopifyVerifier().Verify(Request(body, ("X-Shopify-Hmac-SHA256", Convert.ToBase64String(mac)), ("X-Shopify-Webhook-Id", "order-created-1")), ["shpss_key"], DateTimeOffset.UtcNow).EventId);
        var generic = new HmacSha256Verifier(new HmacScheme("X-Acme-Signature", HmacEncoding.Hex, "sha256="));
        Assert.True(generic.Verify(Request(body, ("X-Acme-Signature", "sha256=" + Convert.ToHexStringLower(mac))), ["shpss_key"], DateTimeOffset.UtcNow).Verified);
        var malformed = generic.Verify(Request(body, ("X-Acme-Signature", Convert.ToHexStringLower(mac))), ["shpss_key"], DateTimeOffset.UtcNow);
        Assert.Equal(("malformed_signature", "the X-Acme-Signature header is not 'sha256=' and an HMAC-SHA256 in hex"), (malformed.ReasonCode, malformed.Detail));
    }

    [Fact]
    public void AnEndpointsHmacScheme_FromItsPolicy_IsTheOneItVerifiesWith()
    {
        const string body = """{"order":1}""";
        var mac = Convert.ToBase64String(HMACSHA256.HashData("k"u8, Encoding.UTF8.GetBytes(body)));
        var endpoint = ActiveEndpoint.Of(new EndpointPolicy { Tenant = "t", Endpoint = "acme", Provider = "hmac-sha256", Hmac = new HmacSignature { Header = "X-Acme-Signature", Encoding = "base64", Prefix = "v1=" } });

        Assert.True(endpoint.Verifier!.Verify(Request(body, ("X-Acme-Signature", "v1=" + mac)), ["k"], DateTimeOffset.UtcNow).Verified);
        Assert.Equal("missing_signature", endpoint.Verifier.Verify(Request(body, ("X-Signature", "v1=" + mac)), ["k"], DateTimeOffset.UtcNow).ReasonCode);
        Assert.Equal("Unknown provider 'paypal'; use one of stripe, github, standard-webhooks, shopify, slack, hmac-sha256, none. (Parameter 'provider')", ActiveEndpoint.Of(new EndpointPolicy { Provider = "paypal" }).Unusable);
    }

    [Theory]
    [InlineData("*", null, true)]
    [InlineData("invoice.*", "invoice.paid", true)]
    [InlineData("invoice.*", "invoice", false)]
    [InlineData("*.created", "customer.subscription.created", true)]
    [InlineData("pull_request", "pull_request", true)]
    [InlineData("pull_request", "pull_request_review", false)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXbY", false)]
    [InlineData("invoice.*", null, false)]
    public void EventTypeGlobs_MatchWholeTypes_WithStarsForAnyRun(string pattern, string? type, bool matches) =>
        Assert.Equal(matches, new EventTypeGlob([pattern]).Matches(type));

    [Fact]
    public void Verifiers_AnUnknownProvider_SaysWhichAreKnown_AndSecretFilesHoldOnePerLine()
    {
        var error = Assert.Throws<ArgumentException>(() => Verifiers.For("paypal"));
        Assert.StartsWith("Unknown provider 'paypal'; use one of stripe, github, standard-webhooks, shopify, slack, hmac-sha256, none.", error.Message);
        Assert.Null(Verifiers.For("none"));
        Assert.Equal(["whsec_new", "whsec_old"], SecretStore.Parse("whsec_new\n\n# rotating out on Friday\nwhsec_old\n"));
    }
}
