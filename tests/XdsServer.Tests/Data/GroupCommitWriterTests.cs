using System.Collections.Concurrent;
using ZenMesh.Data;
using ZenMesh.XdsServer.Tests.Infrastructure;

namespace ZenMesh.XdsServer.Tests.Data;

/// <summary>The one group-commit loop every store uses: batches, failure rules, closing.</summary>
public sealed class GroupCommitWriterTests
{
    [Fact]
    public async Task WorkQueuedWhileACommitRuns_IsCommittedTogether_InOneBatch()
    {
        var batches = new ConcurrentQueue<string[]>();
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new ManualResetEventSlim();
        await using (var writer = new GroupCommitWriter<string>(100, batch =>
        {
            if (batch[0] == "first")
            {
                firstStarted.SetResult();
                release.Wait(TestTimeouts.Default);
            }
            batches.Enqueue([.. batch]);
        }, (_, _) => { }))
        {
            writer.TryEnqueue("first");
            await firstStarted.Task.WithTimeout("the first commit");
            writer.TryEnqueue("a");
            writer.TryEnqueue("b");
            writer.TryEnqueue("c");
            release.Set();
        }

        Assert.Equal([["first"], ["a", "b", "c"]], batches.ToArray());
    }

    [Fact]
    public async Task ABatchThatThrowsAnything_FailsOnlyItsOwnItems_AndTheLoopGoesOn()
    {
        var committed = new ConcurrentQueue<int>();
        var failed = new ConcurrentQueue<(int Item, string Reason)>();
        await using (var writer = new GroupCommitWriter<int>(1, batch =>
        {
            if (batch[0] == 2)
            {
                // Not a database error: the loop must survive any exception.
                throw new InvalidOperationException("not the engine's own failure");
            }
            committed.Enqueue(batch[0]);
        }, (batch, e) =>
        {
            foreach (var item in batch)
            {
                failed.Enqueue((item, e.Message));
            }
        }))
        {
            writer.TryEnqueue(1);
            writer.TryEnqueue(2);
            writer.TryEnqueue(3);
        }

        Assert.Equal([1, 3], committed);
        Assert.Equal([(2, "not the engine's own failure")], failed);
    }

    [Fact]
    public async Task Closing_CommitsWhatIsQueued_AndTakesNoMore()
    {
        var committed = new ConcurrentQueue<int>();
        var writer = new GroupCommitWriter<int>(2, batch => { foreach (var i in batch) { committed.Enqueue(i); } }, (_, _) => { });
        for (var i = 0; i < 5; i++)
        {
            Assert.True(writer.TryEnqueue(i));
        }

        await writer.DisposeAsync();

        Assert.Equal([0, 1, 2, 3, 4], committed);
        Assert.False(writer.TryEnqueue(5));
    }
}
