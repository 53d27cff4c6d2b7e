using System.Text;
using ZenMesh.Egress.Delivery;

namespace ZenMesh.Egress.Tests.Delivery;

/// <summary>Outbound signatures against the vector the Standard Webhooks libraries publish.</summary>
public sealed class StandardWebhooksSignerTests
{
    // From the standard-webhooks reference libraries' tests.
    private const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string Id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long Timestamp = 1614265330;
    private const string Body = """{"test": 2432232314}""";
    private const string Expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    [Fact]
    public void Sign_MatchesThePublishedVector()
    {
        Assert.Equal(Expected, StandardWebhooksSigner.Sign(Id, Timestamp, Encoding.UTF8.GetBytes(Body), [Secret], out var problem));
        Assert.Null(problem);
    }

    [Fact]
    public void Sign_DuringARotation_SendsOneSignaturePerSecret_InTheFileOrder()
    {
        var signature = StandardWebhooksSigner.Sign(Id, Timestamp, Encoding.UTF8.GetBytes(Body), ["whsec_" + Convert.ToBase64String(new byte[24]), Secret], out _);
        var parts = signature!.Split(' ');
        Assert.Equal(2, parts.Length);
        Assert.Equal(Expected, parts[1]);
        Assert.NotEqual(Expected, parts[0]);
    }

    [Fact]
    public void Sign_WithASecretThatIsNotBase64_SaysWhichLineAndHowToWriteIt()
    {
        Assert.Null(StandardWebhooksSigner.Sign(Id, Timestamp, [], [Secret, "not base64!"], out var problem));
        Assert.Contains("line 2", problem);
        Assert.Contains("whsec_", problem);
    }
}
