using System.Security.Cryptography;
using System.Text;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.Ingester.Tests.Verification;

/// <summary>
/// Signatures an attacker crafts: a timestamp past what a date can hold (it was a 500, an unhandled
/// exception per request), and a webhook signed with an empty key, which a secret file that reads
/// "whsec_" (a key left out) would have accepted from anyone.
/// </summary>
public sealed class HostileSignatureTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static WebhookRequest Request(string body, params (string Name, string Value)[] headers) =>
        WebhookRequest.Of([.. headers.Select(h => KeyValuePair.Create(h.Name, h.Value))], Encoding.UTF8.GetBytes(body));

    [Theory]
    [InlineData("99999999999999")]
    [InlineData("253402300800")]
    [InlineData("9223372036854775807")]
    public void ATimestampPastYear9999_IsRefusedWithItsReason_InEveryScheme(string timestamp)
    {
        var stripe = new StripeVerifier().Verify(Request("{}", ("Stripe-Signature", $"t={timestamp},v1={new string('0', 64)}")), ["whsec_x"], Now);
        var standard = new StandardWebhooksVerifier().Verify(Request("{}", ("webhook-id", "msg_1"), ("webhook-timestamp", timestamp), ("webhook-signature", "v1,AAAA")), ["whsec_AAAA"], Now);
        var slack = new SlackVerifier().Verify(Request("{}", ("X-Slack-Request-Timestamp", timestamp), ("X-Slack-Signature", "v0=" + new string('0', 64))), ["s"], Now);

        foreach (var verdict in new[] { stripe, standard, slack })
        {
            Assert.False(verdict.Verified);
            Assert.Equal("stale_timestamp", verdict.ReasonCode);
            Assert.EndsWith("is not a time within the next or last 300 s; at most 300 s is accepted (replay protection)", verdict.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void AStandardWebhooksSecretWithAnEmptyKey_MatchesNothing_NotEvenAnEmptyKeysSignature()
    {
        var t = Now.ToUnixTimeSeconds();
        var forged = Convert.ToBase64String(HMACSHA256.HashData(Array.Empty<byte>(), Encoding.UTF8.GetBytes($"msg_1.{t}.{{}}")));

        var verdict = new StandardWebhooksVerifier().Verify(Request("{}", ("webhook-id", "msg_1"), ("webhook-timestamp", $"{t}"), ("webhook-signature", $"v1,{forged}")), ["whsec_"], Now);

        Assert.False(verdict.Verified);
        Assert.Equal("signature_mismatch", verdict.ReasonCode);
    }

    [Fact]
    public void AnEmptyKey_SignsNothing_ForAnyHmacScheme()
    {
        var forged = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(ReadOnlySpan<byte>.Empty, "{}"u8));
        var generic = new HmacSha256Verifier(new HmacScheme("X-Sig", HmacEncoding.Hex, "sha256="));

        Assert.False(generic.Verify(Request("{}", ("X-Sig", forged)), [""], Now).Verified);
    }
}
