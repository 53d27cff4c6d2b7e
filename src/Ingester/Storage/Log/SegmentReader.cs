using Microsoft.Win32.SafeHandles;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// Reads a segment's records in order from <c>start</c> (a record's offset), a few MiB at a time, up to <c>end</c> or to the first record
/// that is not whole (zeroes, or a write a crash tore), where the log ends.
/// Each record is a slice of a buffer the next one may reuse: copy what must outlive the step.
/// </summary>
internal static class SegmentReader
{
    private const int Chunk = 4 << 20;

    public static IEnumerable<(int Offset, ReadOnlyMemory<byte> Record)> Records(SafeFileHandle file, long end, long start = 0)
    {
        var buffer = new byte[(int)Math.Clamp(end - start, LogRecord.HeaderSize, Chunk)];
        var bufferAt = start;
        var filled = 0;
        var at = 0;
        while (bufferAt + at < end)
        {
            var position = bufferAt + at;
            var available = filled - at;
            var size = available >= LogRecord.HeaderSize ? LogRecord.Measure(buffer.AsSpan(at, available), end - position) : -1;
            if (size == 0)
            {
                yield break;
            }
            if (size < 0 || size > available)
            {
                // Refill from this record on; a record larger than the buffer gets a buffer of its size.
                var target = size > buffer.Length ? new byte[size] : buffer;
                buffer.AsSpan(at, available).CopyTo(target);
                buffer = target;
                bufferAt = position;
                at = 0;
                filled = available;
                var want = (int)Math.Min(buffer.Length - filled, end - (bufferAt + filled));
                var read = want > 0 ? RandomAccess.Read(file, buffer.AsSpan(filled, want), bufferAt + filled) : 0;
                if (read == 0)
                {
                    yield break;
                }
                filled += read;
                continue;
            }
            if (!LogRecord.IsWhole(buffer.AsSpan(at, size)))
            {
                yield break;
            }
            yield return ((int)position, buffer.AsMemory(at, size));
            at += size;
        }
    }
}
