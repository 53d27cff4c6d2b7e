using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.Ingester.Policies;

/// <summary>
/// An endpoint's policy made ready for requests once, when config arrives: its verifier built, its
/// flows' filters compiled. <see cref="Unusable"/> says why an endpoint this ingester cannot serve
/// (a provider it does not know) refuses webhooks with 503, so the provider retries after an upgrade.
/// </summary>
public sealed record ActiveEndpoint(EndpointPolicy Policy, IWebhookVerifier? Verifier, IReadOnlyList<(string Flow, EventTypeGlob Filter)> Flows, string? Unusable)
{
    public static ActiveEndpoint Of(EndpointPolicy policy)
    {
        var flows = policy.Flows.Where(f => f.Enabled).Select(f => (f.Flow, new EventTypeGlob([.. f.EventTypes]))).ToList();
        try
        {
            return new ActiveEndpoint(policy, Verifiers.For(policy.Provider, Scheme(policy.Hmac)), flows, null);
        }
        catch (ArgumentException e)
        {
            return new ActiveEndpoint(policy, null, flows, e.Message);
        }
    }

    // What most events feed: every flow (an endpoint's flows usually all take "*"), made once.
    private readonly string[] _allFlows = [.. Flows.Select(f => f.Flow)];

    /// <summary>The flows an event of this type feeds: one delivery job each.</summary>
    public IReadOnlyList<string> FlowsFor(string? eventType)
    {
        var matching = 0;
        foreach (var (_, filter) in Flows)
        {
            if (filter.Matches(eventType))
            {
                matching++;
            }
        }
        if (matching == _allFlows.Length)
        {
            return _allFlows;
        }
        var flows = new string[matching];
        matching = 0;
        foreach (var (flow, filter) in Flows)
        {
            if (filter.Matches(eventType))
            {
                flows[matching++] = flow;
            }
        }
        return flows;
    }

    private static HmacScheme? Scheme(HmacSignature? hmac) => hmac is null ? null : new HmacScheme(
        hmac.Header.Length > 0 ? hmac.Header : "X-Signature",
        hmac.Encoding switch
        {
            "" or "hex" => HmacEncoding.Hex,
            "base64" => HmacEncoding.Base64,
            _ => throw new ArgumentException($"Unknown HMAC encoding '{hmac.Encoding}'; use hex or base64."),
        },
        hmac.Prefix);
}
