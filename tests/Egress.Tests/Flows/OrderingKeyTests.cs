using System.Text;
using ZenMesh.Flows;

namespace ZenMesh.Egress.Tests.Flows;

/// <summary>The ordering key of an event: the whole flow, a JSON pointer into the body (RFC 6901), or a header.</summary>
public sealed class OrderingKeyTests
{
    private static readonly Dictionary<string, string> Headers = new(StringComparer.Ordinal) { ["X-Shopify-Order-Id"] = "820982911946154508" };

    private static string Key(string spec, string body) => OrderingKey.Parse(spec, out _)!.Of(Headers, Encoding.UTF8.GetBytes(body));

    [Theory]
    [InlineData("/data/object/customer", """{"data":{"object":{"customer":"cus_9"}}}""", "cus_9")]
    [InlineData("/order/id", """{"order":{"id":42}}""", "42")]
    [InlineData("/items/1/sku", """{"items":[{"sku":"a"},{"sku":"b"}]}""", "b")]
    [InlineData("/a~1b/m~0n", """{"a/b":{"m~n":"escaped"}}""", "escaped")]
    [InlineData("/order", """{"order":{"id":1}}""", """{"id":1}""")]
    [InlineData("/missing", """{"order":1}""", "")]
    [InlineData("/order/id", "not json", "")]
    [InlineData("*", """{"a":1}""", "")]
    [InlineData("header:x-shopify-order-id", "{}", "820982911946154508")]
    [InlineData("header:X-Absent", "{}", "")]
    public void Of_FindsTheKey_OrGivesTheEmptyKey(string spec, string body, string expected) => Assert.Equal(expected, Key(spec, body));

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    public void Parse_NoSetting_IsNoOrdering(string? spec)
    {
        Assert.Null(OrderingKey.Parse(spec, out var problem));
        Assert.Null(problem);
    }
}
