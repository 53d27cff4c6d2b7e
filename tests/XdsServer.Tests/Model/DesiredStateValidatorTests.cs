using ZenMesh.Hosting;
using ZenMesh.Xds;
using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Tests.Model;

public sealed class DesiredStateValidatorTests
{
    [Fact]
    public void Validate_ReportsEveryProblemOfEveryResource_WithFieldAndFix()
    {
        var state = DesiredState.Empty
            .With(ResourceKind.Edge, "t", "e", new Edge { Mode = "cloud" })
            .With(ResourceKind.Endpoint, "t", "a", new Endpoint { Edge = "e", Provider = "stripe", Path = "/in" })
            .With(ResourceKind.Endpoint, "t", "b", new Endpoint { Edge = "e", Provider = "pigeon", SecretRef = "s", Path = "/in" })
            .With(ResourceKind.Target, "t", "x", new Target { Edge = "elsewhere", Url = "http://x/", Tls = new TargetTls() })
            .With(ResourceKind.Flow, "t", "f", new Flow { Endpoint = "a", Target = "x", Redelivery = new Redelivery { Horizon = TimeSpan.FromMinutes(1) } });

        Assert.Equal(
        [
            "edges/e: field 'mode': is 'cloud'; use \"vm\" or \"kubernetes\".",
            "endpoints/a: field 'secretRef': is missing; provider 'stripe' verifies signatures, so name the edge secret that holds its key (or use provider \"none\").",
            "endpoints/b: field 'provider': is 'pigeon'; use one of stripe, github, standard-webhooks, shopify, slack, hmac-sha256, none.",
            "endpoints/b: field 'path': '/in' is already used by endpoints/a on edge 'e'; give one of them another path.",
            "targets/x: field 'edge': names edges/elsewhere, which does not exist; create it first (PUT /api/v1/edges/elsewhere) or fix the name.",
            "targets/x: field 'tls': is set but the url is http; use an https url, or remove tls.",
            "flows/f: field 'redelivery.horizon': is 1m, shorter than the delays it must cover; make it at least their sum.",
        ], DesiredStateValidator.Validate(state).Select(p => p.ToString()));
    }

    [Fact]
    public void Validate_AGenericHmacScheme_NeedsAHeaderNameAndAKnownEncoding_AndTheHmacProvider()
    {
        var state = DesiredState.Empty
            .With(ResourceKind.Edge, "t", "e", new Edge())
            .With(ResourceKind.Endpoint, "t", "good", new Endpoint { Edge = "e", Provider = "hmac-sha256", SecretRef = "s", Hmac = new HmacSignature { Header = "X-Acme-Signature", Encoding = "base64", Prefix = "sha256=" } })
            .With(ResourceKind.Endpoint, "t", "bad", new Endpoint { Edge = "e", Provider = "hmac-sha256", SecretRef = "s", Hmac = new HmacSignature { Header = "X Acme", Encoding = "base32" } })
            .With(ResourceKind.Endpoint, "t", "wrong", new Endpoint { Edge = "e", Provider = "github", SecretRef = "s", Hmac = new HmacSignature() });

        Assert.Equal(
        [
            "endpoints/bad: field 'hmac.header': is 'X Acme'; use an HTTP header name such as \"X-Signature\".",
            "endpoints/bad: field 'hmac.encoding': is 'base32'; use \"hex\" or \"base64\".",
            "endpoints/wrong: field 'hmac': is set, but provider is 'github'; it only applies to provider \"hmac-sha256\", so remove it or change the provider.",
        ], DesiredStateValidator.Validate(state).Select(p => p.ToString()));
    }

    [Fact]
    public void Validate_AnOrderingKey_IsWholeFlow_AJsonPointer_OrAHeader()
    {
        var state = DesiredState.Empty
            .With(ResourceKind.Edge, "t", "e", new Edge())
            .With(ResourceKind.Endpoint, "t", "in", new Endpoint { Edge = "e", Provider = "none" })
            .With(ResourceKind.Target, "t", "x", new Target { Edge = "e", Url = "http://x/" });
        foreach (var (name, key) in new[] { ("all", "*"), ("pointer", "/data/object/customer"), ("header", "header:X-Shopify-Order-Id"), ("bare", "customer"), ("noheader", "header:"), ("tilde", "/a~2b") })
        {
            state = state.With(ResourceKind.Flow, "t", name, new Flow { Endpoint = "in", Target = "x", OrderingKey = key });
        }

        Assert.Equal(
        [
            "flows/bare: field 'orderingKey': 'customer' is not an ordering key; use \"*\" (the whole flow in order), a JSON pointer into the body such as /data/object/customer, or header:<name>.",
            "flows/noheader: field 'orderingKey': 'header:' does not name a header; write header:<name>, e.g. header:X-Shopify-Order-Id.",
            "flows/tilde: field 'orderingKey': '/a~2b' is not a JSON pointer: '~' must be written ~0 and '/' inside a name ~1.",
        ], DesiredStateValidator.Validate(state).Select(p => p.ToString()).Order());
    }

    [Fact]
    public void Validate_TenantsAreSeparate_AReferenceAcrossTenantsDoesNotResolve()
    {
        var state = DesiredState.Empty
            .With(ResourceKind.Edge, "one", "e", new Edge())
            .With(ResourceKind.Target, "two", "x", new Target { Edge = "e", Url = "http://x/" });

        Assert.Equal(["targets/x: field 'edge': names edges/e, which does not exist; create it first (PUT /api/v1/edges/e) or fix the name."], DesiredStateValidator.Validate(state).Select(p => p.ToString()));
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("2s", 2000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5s", 1500)]
    public void DurationText_ParsesWhatPeopleWrite_AndFormatsItBack(string text, int milliseconds)
    {
        Assert.True(DurationText.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
        Assert.True(DurationText.TryParse(DurationText.Format(value), out var again));
        Assert.Equal(value, again);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("soon")]
    [InlineData("-1s")]
    public void DurationText_RefusesWhatIsNotADuration(string text) => Assert.False(DurationText.TryParse(text, out _));

    public static TheoryData<string> Changes => ["delete-endpoint", "delete-edge", "duplicate-path", "bad-flow", "move-target", "delete-target"];

    [Theory]
    [MemberData(nameof(Changes))]
    public void ValidateChange_FindsExactlyWhatAFullValidationFinds(string scenario)
    {
        var valid = DesiredState.Empty
            .With(ResourceKind.Edge, "t", "e1", new Edge())
            .With(ResourceKind.Edge, "t", "e2", new Edge())
            .With(ResourceKind.Endpoint, "t", "a", new Endpoint { Edge = "e1", Provider = "none", Path = "/a" })
            .With(ResourceKind.Endpoint, "t", "b", new Endpoint { Edge = "e1", Provider = "none", Path = "/b" })
            .With(ResourceKind.Target, "t", "x", new Target { Edge = "e2", Url = "http://x/" })
            .With(ResourceKind.Flow, "t", "f", new Flow { Endpoint = "a", Target = "x" })
            .With(ResourceKind.Flow, "t", "g", new Flow { Endpoint = "b", Target = "x" });
        Assert.Empty(DesiredStateValidator.Validate(valid));
        var after = scenario switch
        {
            "delete-endpoint" => valid.Without(ResourceKind.Endpoint, "t", "a"),
            "delete-edge" => valid.Without(ResourceKind.Edge, "t", "e1"),
            "duplicate-path" => valid.With(ResourceKind.Endpoint, "t", "a", new Endpoint { Edge = "e1", Provider = "none", Path = "/b" }),
            "bad-flow" => valid.With(ResourceKind.Flow, "t", "h", new Flow { Endpoint = "a", Target = "nope", MaxInFlight = 0 }),
            "move-target" => valid.With(ResourceKind.Target, "t", "x", new Target { Edge = "gone", Url = "http://x/" }),
            _ => valid.Without(ResourceKind.Target, "t", "x"),
        };
        var changes = ZenMesh.XdsServer.Storage.DesiredStateDiff.Between(valid, after).Select(c => (c.Kind, c.Tenant, c.Name, c.Action == ZenMesh.XdsServer.Storage.ChangeAction.Deleted));

        var full = DesiredStateValidator.Validate(after).Select(p => p.ToString()).Order();
        Assert.NotEmpty(full);
        Assert.Equal(full, DesiredStateValidator.ValidateChange(after, changes).Select(p => p.ToString()).Order());
    }
}
