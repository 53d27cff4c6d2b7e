using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Hosting.Resilience;

namespace ZenMesh.XdsServer.Tests.Resilience;

/// <summary>
/// The one backoff every reconnecting loop uses, on a fake clock: no attempt can start before the
/// clock has moved by the delay the loop announced, so each assertion about waiting is exact.
/// </summary>
public sealed class ReconnectLoopTests
{
    private static readonly TimeSpan Base = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(4);

    /// <summary>A loop under test: each attempt's start (fake time) and each loss, in order.</summary>
    private sealed class Driven
    {
        public FakeTimeProvider Clock { get; } = new(DateTimeOffset.Parse("2026-12-07T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        public Channel<DateTimeOffset> Attempts { get; } = Channel.CreateUnbounded<DateTimeOffset>();
        public Channel<(Exception? Lost, TimeSpan Delay, DateTimeOffset At)> Losses { get; } = Channel.CreateUnbounded<(Exception?, TimeSpan, DateTimeOffset)>();
        public CancellationTokenSource Stop { get; } = new(TimeSpan.FromSeconds(30));

        public Task Run(Backoff backoff, Func<int, Action, Task> attempt, Func<Exception, bool>? transient = null)
        {
            var n = 0;
            var loop = new ReconnectLoop(backoff, Clock, transient ?? (e => e is IOException));
            return Task.Run(() => loop.RunAsync(
                (progress, _) =>
                {
                    Attempts.Writer.TryWrite(Clock.GetUtcNow());
                    return attempt(n++, progress);
                },
                (lost, delay) => Losses.Writer.TryWrite((lost, delay, Clock.GetUtcNow())),
                Stop.Token));
        }
    }

    [Fact]
    public async Task FailuresInARow_WaitTwiceAsLongEachTime_UpToTheMax_AndNoAttemptStartsBeforeItsDelayHasPassed()
    {
        var driven = new Driven();
        var run = driven.Run(new Backoff(Base, Max) { Jitter = false }, (_, _) => throw new IOException("connection refused"));
        var losses = await LossesAsync(driven, 7);

        foreach (var (loss, next) in losses)
        {
            Assert.IsType<IOException>(loss.Lost);
            Assert.True(next - loss.At >= loss.Delay, $"an attempt started {(next - loss.At).TotalMilliseconds} ms after the loss, before its delay of {loss.Delay.TotalMilliseconds} ms");
        }
        Assert.Equal([250, 500, 1000, 2000, 4000, 4000, 4000], losses.Select(l => l.Loss.Delay.TotalMilliseconds));
        await driven.Stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task AfterProgress_TheNextLoss_WaitsOnlyTheBase_AndTheBackoffStartsAfresh()
    {
        var driven = new Driven();
        // Attempts 0-3 fail; 4 connects and then breaks; 5 and 6 fail again.
        var run = driven.Run(new Backoff(Base, Max) { Jitter = false }, (n, progress) =>
        {
            if (n == 4)
            {
                progress();
            }
            throw new IOException(n == 4 ? "stream reset" : "connection refused");
        });
        var losses = await LossesAsync(driven, 6);

        Assert.Equal([250, 500, 1000, 2000, 250, 250], losses.Select(l => l.Loss.Delay.TotalMilliseconds));
        await driven.Stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task AnAttemptThatEndsBeforeAnyProgress_BacksOffLikeAFailure_AndOneThatEndsAfterIt_DoesNot()
    {
        var driven = new Driven();
        // 0-2 end at once (the other side closes before sending anything); 3 receives, then ends; 4 ends at once.
        var run = driven.Run(new Backoff(Base, Max) { Jitter = false }, (n, progress) =>
        {
            if (n == 3)
            {
                progress();
            }
            return Task.CompletedTask;
        });
        var losses = await LossesAsync(driven, 5);

        Assert.All(losses, l => Assert.Null(l.Loss.Lost));
        Assert.Equal([250, 500, 1000, 250, 250], losses.Select(l => l.Loss.Delay.TotalMilliseconds));
        await driven.Stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task WithJitter_NoDelayPassesTheMax()
    {
        var driven = new Driven();
        var run = driven.Run(new Backoff(Base, Max), (_, _) => throw new IOException("connection refused"));
        var losses = await LossesAsync(driven, 12);

        Assert.All(losses, l => Assert.InRange(l.Loss.Delay, TimeSpan.Zero, Max));
        await driven.Stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task AFailureTheLoopIsNotToldIsTransient_EndsIt_WithThatException()
    {
        var driven = new Driven();
        var run = driven.Run(new Backoff(Base, Max), (_, _) => throw new InvalidOperationException("a bug, not an outage"));

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => run);
        Assert.Equal("a bug, not an outage", thrown.Message);
        Assert.False(driven.Losses.Reader.TryRead(out _));
    }

    [Fact]
    public async Task Cancellation_WhileWaiting_EndsTheLoopQuietly()
    {
        var driven = new Driven();
        var run = driven.Run(new Backoff(Base, Max), (_, _) => throw new IOException("connection refused"));
        await driven.Losses.Reader.ReadAsync(driven.Stop.Token);

        await driven.Stop.CancelAsync();

        await run;
        Assert.True(run.IsCompletedSuccessfully);
    }

    /// <summary>
    /// After the loop's first attempt: <paramref name="count"/> losses in turn, each with the start of
    /// the attempt that followed it, the clock moved only as far as each loss asked.
    /// </summary>
    private static async Task<List<((Exception? Lost, TimeSpan Delay, DateTimeOffset At) Loss, DateTimeOffset Next)>> LossesAsync(Driven driven, int count)
    {
        await driven.Attempts.Reader.ReadAsync(driven.Stop.Token);
        var losses = new List<((Exception? Lost, TimeSpan Delay, DateTimeOffset At) Loss, DateTimeOffset Next)>();
        for (var i = 0; i < count; i++)
        {
            var loss = await driven.Losses.Reader.ReadAsync(driven.Stop.Token);
            losses.Add((loss, await AdvanceUntilAttemptAsync(driven, loss.Delay)));
        }
        return losses;
    }

    /// <summary>
    /// Moves the fake clock by <paramref name="delay"/>, then on in 1 ms steps (the loop may set its
    /// timer just after announcing the delay) until the next attempt starts; that attempt's start.
    /// </summary>
    private static async Task<DateTimeOffset> AdvanceUntilAttemptAsync(Driven driven, TimeSpan delay)
    {
        driven.Clock.Advance(delay);
        while (true)
        {
            if (driven.Attempts.Reader.TryRead(out var next))
            {
                return next;
            }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(driven.Stop.Token);
            wait.CancelAfter(TimeSpan.FromMilliseconds(20));
            try
            {
                return await driven.Attempts.Reader.ReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!driven.Stop.IsCancellationRequested)
            {
                driven.Clock.Advance(TimeSpan.FromMilliseconds(1));
            }
        }
    }
}
