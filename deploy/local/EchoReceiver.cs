using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using ZenMesh.Ingester.Verification;

namespace ZenMesh.LocalStack;

/// <summary>
/// The demo flow's target: a small webhook receiver that checks each delivery's Standard Webhooks
/// signature against the flow's signing secret, as a customer's service would, says so on the
/// console, and lists what it got at GET /echo.
/// </summary>
public sealed class EchoReceiver : IAsyncDisposable
{
    private const int Kept = 100;
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Received> _received = new();

    public sealed record Received(DateTimeOffset At, string? WebhookId, string? Signature, bool Verified, string Detail, string Body, string? TraceParent);

    private EchoReceiver(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public IReadOnlyList<Received> All => [.. _received];

    public static async Task<EchoReceiver> StartAsync(int port, string secretsDir, TextWriter output, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port));
        var app = builder.Build();
        var echo = new EchoReceiver(app);
        var verifier = new StandardWebhooksVerifier();
        app.MapPost("/echo", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
            var body = buffer.ToArray();
            var request = WebhookRequest.Of(http.Request.Headers.Select(h => KeyValuePair.Create(h.Key, h.Value.ToString())), body);
            // Read per request: a rotated secret is picked up without a restart.
            var verdict = verifier.Verify(request, [DemoMesh.ReadSecret(secretsDir, DemoMesh.SigningSecret)], DateTimeOffset.UtcNow);
            var received = new Received(DateTimeOffset.UtcNow, request.Header("webhook-id"), request.Header("webhook-signature"), verdict.Verified,
                verdict.Verified ? "signature verified" : $"signature NOT verified: {verdict.Detail}", System.Text.Encoding.UTF8.GetString(body), request.Header("traceparent"));
            echo._received.Enqueue(received);
            while (echo._received.Count > Kept && echo._received.TryDequeue(out _))
            {
            }
            await output.WriteLineAsync($"echo      <- delivery {received.WebhookId} ({received.Detail}): {Shorten(received.Body)}");
            return verdict.Verified ? Results.Json(new { received = received.WebhookId }) : Results.Json(new { error = received.Detail }, statusCode: 401);
        });
        app.MapGet("/echo", () => Results.Json(echo.All));
        await app.StartAsync(cancellationToken);
        echo.Url = new Uri(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()), "/echo");
        return echo;
    }

    private static string Shorten(string body) => body.Length <= 120 ? body : body[..117] + "...";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
