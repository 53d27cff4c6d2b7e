using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Hosting;
using ZenMesh.Egress.Storage;
using ZenMesh.Observability;
using ZenMesh.Secrets;

namespace ZenMesh.Egress.Delivery;

/// <summary>
/// Makes one attempt at a delivery: signs it (Standard Webhooks, the same webhook-id every time),
/// sends it through the local Envoy's egress listener with x-zenmesh-flow (Envoy applies the
/// flow's retries, timeouts and circuit breakers) or, with --direct, straight to the target with
/// the same per-request retries and timeout done here with Polly; and says what came of it and
/// whose failure it was.
/// </summary>
public sealed partial class Deliverer : IDisposable
{
    private readonly ServiceTracing _tracing;
    private readonly ILogger<Deliverer> _logger;
    private readonly EgressOptions _options;
    private readonly SecretStore _secrets;
    private readonly TimeProvider _time;
    private readonly TargetConnections _targets;
    private readonly string _via;

    public Deliverer(IOptions<EgressOptions> options, SecretStore secrets, TimeProvider time, ServiceTracing tracing, ILogger<Deliverer> logger)
    {
        _tracing = tracing;
        _logger = logger;
        _options = options.Value;
        _secrets = secrets;
        _time = time;
        _targets = new TargetConnections(secrets, time, logger);
        _via = _options.Direct ? "direct" : $"envoy {_options.Envoy}";
    }

    /// <summary>How long one attempt may take, all its tries included: the flow's timeout, or 30 s.</summary>
    public static TimeSpan TimeoutOf(FlowPolicy policy) => policy.Timeout is { } t && t.ToTimeSpan() > TimeSpan.Zero ? t.ToTimeSpan() : TimeSpan.FromSeconds(30);

    /// <summary>
    /// One attempt, as a span continuing the trace the ingester stored with the event (so the
    /// target's traceparent carries the webhook's trace id through Envoy); its lane's log scope
    /// names the event and flow.
    /// </summary>
    public async Task<AttemptReport> AttemptAsync(Storage.Delivery delivery, FlowPolicy policy, CancellationToken cancellationToken)
    {
        using var activity = _tracing.StartOrCarry("webhook deliver", ActivityKind.Producer, delivery.Header("traceparent"), delivery.Header("tracestate"));
        activity.SetTag("zenmesh.event_id", delivery.EventId).SetTag("zenmesh.flow", delivery.Flow).SetTag("zenmesh.attempt", delivery.Attempts + 1);
        var report = await AttemptOnceAsync(delivery, policy, cancellationToken).ConfigureAwait(false);
        var attempt = report.Attempt;
        activity.SetTag("zenmesh.outcome", attempt.Outcome).SetTag("http.response.status_code", attempt.Status);
        if (attempt.Outcome != AttemptOutcomes.Delivered)
        {
            activity.SetStatus(ActivityStatusCode.Error, attempt.Detail);
            Failed(_logger, delivery.JobId, attempt.Number, attempt.Outcome, attempt.Fault, attempt.Detail);
        }
        else
        {
            Delivered(_logger, delivery.JobId, attempt.Number, attempt.Status, attempt.LatencyMs);
        }
        return report;
    }

    [LoggerMessage(EventId = 6400, Level = LogLevel.Debug, Message = "{JobId} attempt {Attempt}: delivered, {Status} in {LatencyMs:0.#} ms")]
    private static partial void Delivered(ILogger logger, string jobId, int attempt, int? status, double latencyMs);

    [LoggerMessage(EventId = 6401, Level = LogLevel.Information, Message = "{JobId} attempt {Attempt}: {Outcome} ({Fault}): {Detail}")]
    private static partial void Failed(ILogger logger, string jobId, int attempt, string outcome, string? fault, string? detail);

    private async Task<AttemptReport> AttemptOnceAsync(Storage.Delivery delivery, FlowPolicy policy, CancellationToken cancellationToken)
    {
        var number = delivery.Attempts + 1;
        var at = _time.GetUtcNow();
        Attempt Report(string outcome, string? fault, string detail, int? status = null, double latency = 0, string? snippet = null, string? via = null) =>
            new(delivery.JobId, number, at, status, latency, outcome, fault, detail, snippet, via ?? _via);

        string? signature = null;
        if (policy.SigningSecretRef.Length > 0)
        {
            if (_secrets.Get(policy.SigningSecretRef) is not { Count: > 0 } keys)
            {
                return new(Report(AttemptOutcomes.NotSent, Faults.ZenMesh, $"the signing secret '{policy.SigningSecretRef}' is not in this edge's secrets directory ({_secrets.Directory ?? "none configured; set ZENMESH_SECRETS_DIR"}); add it and the next attempt signs"));
            }
            signature = StandardWebhooksSigner.Sign(delivery.JobId, at.ToUnixTimeSeconds(), delivery.Body, keys, out var problem);
            if (signature is null)
            {
                return new(Report(AttemptOutcomes.NotSent, Faults.ZenMesh, $"cannot sign with '{policy.SigningSecretRef}': {problem}"));
            }
        }

        IPEndPoint? checkedAddress = null;
        if (!_options.Direct)
        {
            (var refused, checkedAddress) = await _targets.CheckedAddressAsync(policy, cancellationToken).ConfigureAwait(false);
            if (refused is not null)
            {
                return new(Report(AttemptOutcomes.NotSent, Faults.Target, refused));
            }
        }
        var timeout = TimeoutOf(policy);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var started = Stopwatch.GetTimestamp();
        HttpResponseMessage response;
        try
        {
            response = _options.Direct
                ? await DirectAsync(delivery, policy, number, at, signature, deadline.Token).ConfigureAwait(false)
                : await _targets.ToEnvoy.SendAsync(Request(new Uri(new Uri(_options.Envoy), "/"), delivery, policy, number, at, signature, checkedAddress), HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(Report(AttemptOutcomes.Failed, Faults.Target, $"no answer within the flow's timeout of {timeout.TotalSeconds:0.###} s", latency: Elapsed(started)));
        }
        catch (TimeoutException e)
        {
            return new(Report(AttemptOutcomes.Failed, Faults.Target, e.Message, latency: Elapsed(started)));
        }
        catch (HttpRequestException e)
        {
            return _options.Direct
                ? new(Report(AttemptOutcomes.Failed, Faults.Target, $"could not reach the target {policy.TargetUrl}: {e.Message}", latency: Elapsed(started)))
                : new(Report(AttemptOutcomes.Failed, Faults.ZenMesh, $"the local Envoy at {_options.Envoy} did not answer ({e.Message}); is it running with this edge's config? --direct delivers without it", latency: Elapsed(started)));
        }

        using (response)
        {
            var latency = Elapsed(started);
            var status = (int)response.StatusCode;
            var snippet = await SnippetAsync(response, deadline.Token).ConfigureAwait(false);
            var via = response.Headers.TryGetValues(EnvoyHeaders.Envoy, out var envoy) ? $"envoy {envoy.First()} at {_options.Envoy}" : null;
            var fromEnvoyItself = !_options.Direct && !response.Headers.Contains(EnvoyHeaders.UpstreamTime);
            if (response.IsSuccessStatusCode)
            {
                return new(Report(AttemptOutcomes.Delivered, null, $"{status} {response.ReasonPhrase}", status, latency, snippet, via));
            }
            if (!_options.Direct && response.Headers.Contains(EnvoyHeaders.Overloaded))
            {
                return new(Report(AttemptOutcomes.Backpressure, null, "Envoy's circuit breaker for this target is open (x-envoy-overloaded); sending slower", status, latency, snippet, via));
            }
            if (fromEnvoyItself && status == 404)
            {
                return new(Report(AttemptOutcomes.Failed, Faults.ZenMesh, $"the local Envoy has no route for flow '{policy.Flow}': its config has not reached it (check the agent)", status, latency, snippet, via));
            }
            if (response.StatusCode == HttpStatusCode.Gone)
            {
                return new(Report(AttemptOutcomes.Gone, Faults.Target, "410 Gone: the target no longer accepts this flow; the flow is held until resumed", status, latency, snippet, via));
            }
            if (status is 429 or 503 && RetryAfterOf(response) is { } retryAfter)
            {
                return new(Report(AttemptOutcomes.RetryAfter, Faults.Target, $"{status} with Retry-After {retryAfter.TotalSeconds:0.###} s", status, latency, snippet, via), retryAfter);
            }
            var detail = fromEnvoyItself ? $"{status} from Envoy: the target could not be reached ({snippet?.Trim()})" : $"{status} {response.ReasonPhrase}";
            return new(Report(AttemptOutcomes.Failed, Faults.Target, detail, status, latency, snippet, via));
        }
    }

    private HttpRequestMessage Request(Uri uri, Storage.Delivery delivery, FlowPolicy policy, int number, DateTimeOffset at, string? signature, IPEndPoint? checkedAddress = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new ByteArrayContent(delivery.Body) };
        var contentType = delivery.Header("Content-Type");
        request.Content.Headers.ContentType = MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed : new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("webhook-id", delivery.JobId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        }
        if (delivery.EventType is { } type)
        {
            request.Headers.TryAddWithoutValidation("x-zenmesh-event-type", type);
        }
        request.Headers.TryAddWithoutValidation("x-zenmesh-attempt", number.ToString(CultureInfo.InvariantCulture));
        if (!_options.Direct)
        {
            request.Headers.TryAddWithoutValidation(EnvoyHeaders.Flow, policy.Flow);
            if (checkedAddress is not null)
            {
                request.Headers.TryAddWithoutValidation(EnvoyHeaders.TargetAddress, checkedAddress.ToString());
            }
        }
        return request;
    }

    /// <summary>
    /// Without Envoy: the flow's per-request retries as its Envoy route would make them (connect
    /// failures, resets and 5xx; a 503 with Retry-After is left to the redelivery schedule), each
    /// try within the per-try timeout.
    /// </summary>
    private async Task<HttpResponseMessage> DirectAsync(Storage.Delivery delivery, FlowPolicy policy, int number, DateTimeOffset at, string? signature, CancellationToken cancellationToken)
    {
        var perTry = policy.PerTryTimeout is { } p && p.ToTimeSpan() > TimeSpan.Zero ? p.ToTimeSpan() : (TimeSpan?)null;
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time };
        if (policy.RequestRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = (int)policy.RequestRetries,
                BackoffType = DelayBackoffType.Exponential,
                Delay = TimeSpan.FromMilliseconds(250),
                MaxDelay = TimeSpan.FromSeconds(5),
                UseJitter = true,
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutException>()
                    .HandleResult(r => (int)r.StatusCode >= 500 && !(r.StatusCode == HttpStatusCode.ServiceUnavailable && r.Headers.RetryAfter is not null)),
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return ValueTask.CompletedTask;
                },
            });
        }
        var pipeline = builder.Build();
        return await pipeline.ExecuteAsync(async token =>
        {
            using var tryDeadline = CancellationTokenSource.CreateLinkedTokenSource(token);
            if (perTry is { } limit)
            {
                tryDeadline.CancelAfter(limit);
            }
            try
            {
                return await _targets.Direct(policy).SendAsync(Request(new Uri(policy.TargetUrl), delivery, policy, number, at, signature), HttpCompletionOption.ResponseHeadersRead, tryDeadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                throw new TimeoutException($"no answer within the per-try timeout of {perTry!.Value.TotalSeconds:0.###} s");
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private async Task<string?> SnippetAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[_options.SnippetBytes];
            var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            return read == 0 ? null : Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            return null;
        }
    }

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    public void Dispose() => _targets.Dispose();
}
