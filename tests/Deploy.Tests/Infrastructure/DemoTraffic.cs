using System.Net;
using System.Text;
using System.Text.Json;
using ZenMesh.LocalStack;

namespace ZenMesh.Deploy.Tests.Infrastructure;

/// <summary>The demo's signed GitHub webhook sent to a stack, and whether the echo receiver got its delivery.</summary>
internal static class DemoTraffic
{
    /// <summary>A client for webhooks that, like a provider's, sends the traceparent it is given and no other.</summary>
    public static HttpClient Client(Uri hooks) => new(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = hooks };

    /// <summary>Sends the sample webhook; the event id the ingester gave it when it answered 200, else null.</summary>
    public static async Task<string?> SendAsync(HttpClient hooks, string secret, string deliveryId, string? traceParent = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/hooks/{DemoMesh.Tenant}/{DemoMesh.Endpoint}") { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(DemoMesh.SampleBody(deliveryId))) };
        foreach (var (name, value) in DemoMesh.SampleHeaders(secret, deliveryId))
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }
        if (traceParent is not null)
        {
            request.Headers.Add("traceparent", traceParent);
        }
        try
        {
            using var response = await hooks.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>The trace id of the traceparent the echo receiver got with <paramref name="eventId"/>'s delivery.</summary>
    public static string? TraceIdAtTarget(LocalMesh mesh, string eventId) =>
        mesh.Echo.All.FirstOrDefault(d => d.WebhookId == $"{eventId}/{DemoMesh.Flow}")?.TraceParent?.Split('-') is [_, var traceId, _, _] ? traceId : null;

    public static bool Delivered(LocalMesh mesh, string eventId) => mesh.Echo.All.Any(d => d.WebhookId == $"{eventId}/{DemoMesh.Flow}" && d.Verified);

    public static string Secret(LocalMesh mesh) => DemoMesh.ReadSecret(mesh.Options.SecretsDir, DemoMesh.EndpointSecret);

    /// <summary>
    /// Sends webhooks every 50 ms from before <paramref name="outage"/> until <paramref name="during"/>
    /// more were accepted after it; returns the ids of all accepted ones. One not accepted fails it.
    /// </summary>
    public static async Task<IReadOnlyList<string>> AroundAsync(HttpClient hooks, string secret, string prefix, Func<Task> outage, int during = 10)
    {
        var accepted = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var sending = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            for (var n = 0; !sending.IsCancellationRequested; n++)
            {
                accepted.Enqueue(await SendAsync(hooks, secret, $"{prefix}-{n}") ?? throw new InvalidOperationException($"webhook {prefix}-{n} was not accepted"));
                await Task.Delay(50);
            }
        });
        await TestTimeouts.Eventually(() => Task.FromResult(accepted.Count >= 5 || traffic.IsFaulted), "webhooks accepted before the outage");
        await outage();
        var atOutage = accepted.Count;
        await TestTimeouts.Eventually(() => Task.FromResult(accepted.Count >= atOutage + during || traffic.IsFaulted), "webhooks accepted during the outage");
        await sending.CancelAsync();
        await traffic;
        return [.. accepted];
    }
}
