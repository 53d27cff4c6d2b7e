using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Policies;
using ZenMesh.Secrets;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Verification;
using ZenMesh.Observability;

namespace ZenMesh.Ingester.Intake;

/// <summary>
/// POST /hooks/{tenant}/{endpoint}: verify, deduplicate, store durably, and only then answer 2xx.
/// Unknown endpoint 404, failed verification 401 with a reason code, stale timestamp 401 with its
/// own, body over the endpoint's limit 413, store behind 503 with Retry-After (providers retry).
/// A redelivery gets 200 with Idempotent-Replay: true and is not stored twice.
/// </summary>
/// <remarks>
/// One instance serves every webhook, mapped as a plain request delegate: everything it uses is a
/// singleton, so a request needs no service scope and no parameter binding (with their async state,
/// about 7% of what each webhook allocated; bench/HISTORY.md, session 18).
/// </remarks>
public sealed class HookEndpoint(EndpointPolicies policies, SecretStore secrets, IEventStore store, IntakeCounters counters, IOptions<IngesterOptions> options, TimeProvider time, ServiceTracing tracing, IntakeLog log)
{
    public const string Route = "/hooks/{tenant}/{endpoint}";
    public const long DefaultMaxBodyBytes = 1024 * 1024;
    private static readonly string[] NotStored = ["Authorization", "Cookie", "Proxy-Authorization"];
    private const string TraceParentHeader = "traceparent";
    private readonly int _maxPending = options.Value.MaxPending;

    /// <summary>What is wrong with every active secret, or null when one of them is usable.</summary>
    private static string? Unusable(IWebhookVerifier verifier, IReadOnlyList<string> keys)
    {
        string? first = null;
        foreach (var key in keys)
        {
            if (verifier.Unusable(key) is not { } fault)
            {
                return null;
            }
            first ??= fault;
        }
        return first;
    }

    private IResult Refuse(int status, string reason, string detail)
    {
        counters.Count(reason);
        return Results.Json(new { reason, detail }, statusCode: status);
    }

    public async Task ReceiveAsync(HttpContext http)
    {
        var tenant = (string)http.Request.RouteValues["tenant"]!;
        var endpoint = (string)http.Request.RouteValues["endpoint"]!;
        // A child of the request's span (itself a child of the sender's traceparent, when it sent one); recorded when OpenTelemetry listens.
        using var activity = tracing.Source.StartActivity("webhook ingest");
        activity?.SetTag("zenmesh.tenant", tenant).SetTag("zenmesh.endpoint", endpoint);
        var result = await HandleAsync(tenant, endpoint, http).ConfigureAwait(false);
        await result.ExecuteAsync(http).ConfigureAwait(false);
        activity?.SetTag("http.response.status_code", http.Response.StatusCode);
    }

    private async ValueTask<IResult> HandleAsync(string tenant, string endpoint, HttpContext http)
    {
        if (policies.Find(tenant, endpoint) is not { } active)
        {
            return Refuse(404, "unknown_endpoint", policies.Count == 0
                ? $"no endpoint '{tenant}/{endpoint}': this ingester has received no endpoint config yet"
                : $"no endpoint '{tenant}/{endpoint}' on this edge");
        }
        if (active.Unusable is { } problem)
        {
            http.Response.Headers.RetryAfter = "60";
            return Refuse(503, "endpoint_unusable", $"this ingester cannot serve endpoint '{tenant}/{endpoint}': {problem} Upgrade the ingester; the provider's retries will succeed then.");
        }
        var policy = active.Policy;
        var limit = policy.MaxBodyBytes > 0 ? (long)policy.MaxBodyBytes : DefaultMaxBodyBytes;
        if (http.Request.ContentLength > limit)
        {
            return Refuse(413, "body_too_large", $"the body is {http.Request.ContentLength} bytes; this endpoint takes at most {limit}");
        }
        if (store.Pending >= _maxPending)
        {
            http.Response.Headers.RetryAfter = "1";
            return Refuse(503, "overloaded", "the ingester is at its limit of events waiting to be stored; retry shortly");
        }
        byte[]? body;
        counters.BodyReading(+1);
        try
        {
            body = await ReadAsync(http.Request.Body, http.Request.ContentLength, limit, counters, http.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EndOfStreamException or BadHttpRequestException)
        {
            return Refuse(400, "malformed_request", $"the body ended before its Content-Length of {http.Request.ContentLength} bytes, or arrived too slowly");
        }
        finally
        {
            counters.BodyReading(-1);
        }
        if (body is null)
        {
            return Refuse(413, "body_too_large", $"the body is over this endpoint's limit of {limit} bytes");
        }
        var request = new WebhookRequest(new RequestHeaders(http.Request.Headers), body);
        string? eventId = null;
        if (active.Verifier is { } verifier)
        {
            if (secrets.Get(policy.SecretRef) is not { Count: > 0 } keys)
            {
                http.Response.Headers.RetryAfter = "30";
                return Refuse(503, "secret_missing", $"this edge lacks the secret this endpoint verifies with; the provider's retries will succeed once it is there");
            }
            if (Unusable(verifier, keys) is { } fault)
            {
                http.Response.Headers.RetryAfter = "30";
                return Refuse(503, "secret_unusable", $"the secret '{policy.SecretRef}' this endpoint verifies with holds no usable key ({fault}); fix the file on this edge, and the provider's retries will succeed");
            }
            var verdict = verifier.Verify(request, keys, time.GetUtcNow());
            if (!verdict.Verified)
            {
                return Refuse(401, verdict.ReasonCode!, verdict.Detail);
            }
            // An id the signature does not cover identifies nothing: the signed body does.
            eventId = verdict.EventIdSigned ? verdict.EventId : null;
        }
        var dedupKey = eventId ?? "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        // The stored traceparent is this intake's: the egress continues the trace from here, as a proxy would.
        var headers = StoredHeaders(http.Request.Headers, Activity.Current is { IdFormat: ActivityIdFormat.W3C, Id: { } traceParent } ? traceParent : null);
        StoredEvent stored;
        IReadOnlyList<string> flows;
        var started = time.GetTimestamp();
        try
        {
            var eventType = EventTypes.Of(policy.Provider, request);
            flows = active.FlowsFor(eventType);
            stored = await store.AppendAsync(new IncomingEvent(tenant, endpoint, dedupKey, eventType, time.GetUtcNow(), headers, body, flows)).ConfigureAwait(false);
        }
        catch (StoreUnavailableException)
        {
            http.Response.Headers.RetryAfter = "5";
            return Refuse(503, "store_unavailable", "the event could not be stored; nothing was accepted, retry");
        }
        counters.StoreWait.Observe(time.GetElapsedTime(started));
        counters.Count(stored.Duplicate ? "duplicate" : "accepted");
        log.Stored(stored.Id, tenant, endpoint, flows, stored.Duplicate);
        if (stored.Duplicate)
        {
            http.Response.Headers["Idempotent-Replay"] = "true";
        }
        return new StoredResult(stored.Id, stored.Duplicate);
    }

    /// <summary>
    /// The headers kept with the event, as a UTF-8 JSON object of name to value (what the store keeps
    /// and the egress reads): all but credentials, and <paramref name="traceParent"/> (when there is
    /// one) in place of the sender's.
    /// </summary>
    private static byte[] StoredHeaders(IHeaderDictionary headers, string? traceParent)
    {
        using var buffer = new PooledBufferWriter(2048);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in headers)
            {
                if (!NotStored.Contains(name, StringComparer.OrdinalIgnoreCase) && !(traceParent is not null && name.Equals(TraceParentHeader, StringComparison.OrdinalIgnoreCase)))
                {
                    json.WriteString(name, value.ToString());
                }
            }
            if (traceParent is not null)
            {
                json.WriteString(TraceParentHeader, traceParent);
            }
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The whole body, or null once it passes <paramref name="limit"/> (a chunked body has no Content-Length to check first).</summary>
    /// <summary>
    /// Bodies announced up to this size get one array of that size at once (the usual webhook, a
    /// few KiB). Larger ones grow in pooled buffers as their bytes arrive, so a sender cannot make
    /// the ingester set aside what it only announces.
    /// </summary>
    internal const int ExactUpTo = 64 * 1024;

    private const int ReadChunk = 16 * 1024;

    private static async ValueTask<byte[]?> ReadAsync(Stream body, long? length, long limit, IntakeCounters counters, CancellationToken cancellationToken)
    {
        if (length is { } known and <= ExactUpTo)
        {
            counters.BodyBytes(known);
            try
            {
                var exact = new byte[known];
                await body.ReadExactlyAsync(exact, cancellationToken);
                return exact;
            }
            finally
            {
                counters.BodyBytes(-known);
            }
        }
        using var buffer = new PooledBufferWriter(ReadChunk);
        long held = buffer.Capacity;
        counters.BodyBytes(held);
        try
        {
            while (true)
            {
                // Any free room will do: the buffer doubles only once it is full, so it holds about what arrived.
                var memory = buffer.GetMemory();
                counters.BodyBytes(buffer.Capacity - held);
                held = buffer.Capacity;
                var read = await body.ReadAsync(memory, cancellationToken);
                if (read == 0)
                {
                    break;
                }
                if (buffer.WrittenSpan.Length + read > limit)
                {
                    return null;
                }
                buffer.Advance(read);
            }
            return buffer.WrittenSpan.ToArray();
        }
        finally
        {
            counters.BodyBytes(-held);
        }
    }
}
