using System.Text.Json;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.Ingester.Intake;

/// <summary>The provider's event type, for the flows' event-type filters: a header where the provider sends one (GitHub, Shopify), else the JSON body's top-level "type" (Stripe, Standard Webhooks, Slack, and generic sources that follow the same habit).</summary>
public static class EventTypes
{
    public static string? Of(string provider, WebhookRequest request) => provider switch
    {
        "github" => request.Header("X-GitHub-Event"),
        "shopify" => request.Header("X-Shopify-Topic"),
        _ => TopLevelType(request.Body.Span),
    };

    private static string? TopLevelType(ReadOnlySpan<byte> body)
    {
        try
        {
            var reader = new Utf8JsonReader(body);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("type"u8) && reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    return reader.GetString();
                }
                reader.Read();
                reader.TrySkip();
            }
        }
        catch (JsonException)
        {
            // Not JSON: no type; flows filtering on types see none.
        }
        return null;
    }
}
