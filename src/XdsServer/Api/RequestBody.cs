using System.Text;

namespace ZenMesh.XdsServer.Api;

/// <summary>Reads a request body up to a limit, whether or not it declares its length, without holding more than the limit.</summary>
internal static class RequestBody
{
    public sealed class TooLargeException : Exception;

    public static async Task<string> ReadTextAsync(HttpContext http, long limit)
    {
        if (http.Request.ContentLength > limit)
        {
            throw new TooLargeException();
        }
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new TooLargeException();
            }
            buffer.Write(chunk, 0, read);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
