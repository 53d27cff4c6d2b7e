using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;

namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>
/// A gRPC call made by hand over HTTP/2, so a test can send what no generated client would: bytes
/// that are not the message the method expects. Returns the call's grpc-status and grpc-message.
/// </summary>
internal static class RawGrpc
{
    public static async Task<(int Status, string Message)> CallAsync(Uri server, string method, byte[] payload, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        using var client = new HttpClient { BaseAddress = server, DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TestTimeouts.Default };
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, method) { Content = new ByteArrayContent(frame), Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }
        using var response = await client.SendAsync(request).WithTimeout($"a raw call to {method}");
        await response.Content.ReadAsByteArrayAsync();
        var status = response.TrailingHeaders.TryGetValues("grpc-status", out var s) ? s.First() : response.Headers.TryGetValues("grpc-status", out var h) ? h.First()
            : throw new InvalidOperationException($"{method} answered HTTP {(int)response.StatusCode} without a grpc-status ({response.Headers}; {response.TrailingHeaders})");
        var message = response.TrailingHeaders.TryGetValues("grpc-message", out var m) ? m.First() : response.Headers.TryGetValues("grpc-message", out var hm) ? hm.First() : "";
        return (int.Parse(status, System.Globalization.CultureInfo.InvariantCulture), Uri.UnescapeDataString(message));
    }
}
