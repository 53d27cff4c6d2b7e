using System.Buffers.Binary;
using System.Collections;

namespace ZenMesh.Ingester.Storage.Log;

/// <summary>
/// One flow's open jobs as a checkpoint file holds them, read as they are enumerated: from the block
/// at <paramref name="first"/> up to <paramref name="end"/> of the file's bytes, whose blocks
/// <see cref="Checkpoint.Read"/> has already checked.
/// </summary>
/// <remarks>
/// Not copied into a list first: at startup a million open jobs would be 24 MB of memory touched for
/// the first time, which costs this machine about 200 ms (measured, bench/README session 25), only to
/// be copied again into the open jobs.
/// </remarks>
internal sealed class CheckpointJobs(byte[] file, int first, int end, int count) : IReadOnlyCollection<CheckpointJob>
{
    public int Count => count;

    public IEnumerator<CheckpointJob> GetEnumerator()
    {
        var at = first;
        while (at < end)
        {
            var inBlock = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(at));
            at += 4;
            for (var j = 0; j < inBlock; j++, at += Checkpoint.JobBytes)
            {
                yield return At(at);
            }
        }
    }

    private CheckpointJob At(int at)
    {
        var from = file.AsSpan(at, Checkpoint.JobBytes);
        return new CheckpointJob(
            new JobKey(BinaryPrimitives.ReadInt64LittleEndian(from), BinaryPrimitives.ReadInt32LittleEndian(from[8..]), BinaryPrimitives.ReadInt32LittleEndian(from[12..])),
            BinaryPrimitives.ReadInt32LittleEndian(from[16..]));
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
