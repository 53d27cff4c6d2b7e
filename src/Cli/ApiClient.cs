using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ZenMesh.Cli;

/// <summary>The Flow API over HTTP: every answer as status plus JSON, problems printed the same way everywhere.</summary>
public sealed class ApiClient(HttpClient http, TextWriter error) : IDisposable
{
    public async Task<(HttpStatusCode Status, JsonElement Body)?> SendAsync(HttpMethod method, string path, string? body = null, string contentType = "application/json", CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, contentType);
        }
        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
            return (response.StatusCode, json);
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"error: cannot reach the ZenMesh server at {http.BaseAddress} ({e.Message}). Start it, or point --server (ZENMESH_SERVER) at it.").ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Prints a problem+json answer: its detail, then every problem on its own line.</summary>
    public async Task<int> RefusedAsync((HttpStatusCode Status, JsonElement Body) answer)
    {
        var detail = answer.Body.ValueKind == JsonValueKind.Object && answer.Body.TryGetProperty("detail", out var d) ? d.GetString() : answer.Status.ToString();
        await error.WriteLineAsync($"error ({(int)answer.Status}): {detail}").ConfigureAwait(false);
        if (answer.Body.ValueKind == JsonValueKind.Object && answer.Body.TryGetProperty("errors", out var errors))
        {
            foreach (var problem in errors.EnumerateArray())
            {
                await error.WriteLineAsync($"  - {(problem.ValueKind == JsonValueKind.String ? problem.GetString() : problem.GetProperty("message").GetString())}").ConfigureAwait(false);
            }
        }
        return ExitCodes.Refused;
    }

    /// <summary>
    /// A client for <paramref name="server"/> sending <paramref name="token"/>, acting in
    /// <paramref name="tenant"/> when given (the operator's ZenMesh-Tenant header), and, when
    /// <paramref name="caFile"/> is given, trusting only that CA (the control plane's, for --http-tls).
    /// </summary>
    public static HttpClient Create(Uri server, string? token, string? tenant = null, string? caFile = null)
    {
        var handler = new SocketsHttpHandler();
        if (caFile is not null)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = ZenMesh.Secrets.ServerTrust.Pinned(File.ReadAllText(caFile));
        }
        var http = new HttpClient(handler) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(30) };
        if (!string.IsNullOrEmpty(token))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (!string.IsNullOrEmpty(tenant))
        {
            http.DefaultRequestHeaders.Add("ZenMesh-Tenant", tenant);
        }
        return http;
    }

    public void Dispose() => http.Dispose();
}
