using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ZenMesh.Egress.Tests.Infrastructure;

/// <summary>A customer's webhook receiver (or a stand-in Envoy), written in the test: answers POSTs to any path by a handler that sees the request number, and keeps every request it got.</summary>
internal sealed class TestTarget : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _count;

    public sealed record Received(int Number, DateTimeOffset At, IReadOnlyDictionary<string, string> Headers, byte[] Body);

    private TestTarget(WebApplication app) => _app = app;

    public ConcurrentQueue<Received> Requests { get; } = new();

    public Uri Url { get; private set; } = null!;

    /// <summary>
    /// <paramref name="answer"/> gets the 1-based number of the request and writes the response.
    /// With <paramref name="certificate"/>, the target serves https with it.
    /// </summary>
    public static async Task<TestTarget> StartAsync(Func<int, HttpContext, Task> answer, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (certificate is null)
        {
            builder.WebHost.UseUrls("http://127.0.0.1:0");
        }
        else
        {
            builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
        }
        var app = builder.Build();
        var target = new TestTarget(app);
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            var number = Interlocked.Increment(ref target._count);
            http.Items[BodyKey] = body.ToArray();
            target.Requests.Enqueue(new Received(number, DateTimeOffset.UtcNow, http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body.ToArray()));
            await answer(number, http);
        });
        await app.StartAsync();
        target.Url = new Uri(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single().Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)), "/hook");
        return target;
    }

    private const string BodyKey = "zenmesh.test.body";

    /// <summary>The body of the request being answered, as the target received it.</summary>
    public static string BodyOf(HttpContext http) => System.Text.Encoding.UTF8.GetString((byte[])http.Items[BodyKey]!);

    public static Func<int, HttpContext, Task> Status(int status) => (_, http) =>
    {
        http.Response.StatusCode = status;
        return Task.CompletedTask;
    };

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
