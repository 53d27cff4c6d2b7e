using System.Buffers;
using System.Text;

namespace ZenMesh.Ingester.Intake;

/// <summary>
/// The 200 for a stored (or replayed) webhook, <c>{"id":"ev_…","duplicate":false}</c>, written as
/// bytes: every accepted webhook gets one, and a JSON serializer's writer and result objects per
/// answer were a visible share of what the intake allocated. Ids that would need JSON escaping
/// (never ours) go through the serializer.
/// </summary>
internal sealed class StoredResult(string id, bool duplicate) : IResult
{
    private static ReadOnlySpan<byte> Start => "{\"id\":\""u8;

    private static ReadOnlySpan<byte> Fresh => "\",\"duplicate\":false}"u8;

    private static ReadOnlySpan<byte> Replayed => "\",\"duplicate\":true}"u8;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        if (!IsPlain(id))
        {
            return Results.Json(new { id, duplicate }, statusCode: StatusCodes.Status200OK).ExecuteAsync(httpContext);
        }
        var end = duplicate ? Replayed : Fresh;
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = Start.Length + id.Length + end.Length;
        var writer = response.BodyWriter;
        var span = writer.GetSpan((int)response.ContentLength);
        Start.CopyTo(span);
        var at = Start.Length + Encoding.ASCII.GetBytes(id, span[Start.Length..]);
        end.CopyTo(span[at..]);
        writer.Advance(at + end.Length);
        return writer.FlushAsync(httpContext.RequestAborted).AsTask();
    }

    private static bool IsPlain(string id) => id.AsSpan().IndexOfAnyExcept(Plain) < 0;

    private static readonly SearchValues<char> Plain = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:");
}
