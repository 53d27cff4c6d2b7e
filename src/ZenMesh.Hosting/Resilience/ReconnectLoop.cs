namespace ZenMesh.Hosting.Resilience;

/// <summary>
/// The one way ZenMesh's loops reconnect or retry (the xDS clients, the job stream, the replica
/// feed, credential renewal): an attempt runs until it fails or ends; a failure it makes before any
/// progress is retried after a capped exponential delay with jitter (Polly's retry, on the
/// injected clock, so tests move time themselves); once an attempt has made progress (connected,
/// received something) the next failure starts the backoff afresh from its base.
/// </summary>
/// <remarks>
/// Jitter: a fleet that lost its control plane together does not come back together.
/// Only the failures <c>transient</c> accepts are retried; any other exception ends the loop, so a
/// bug is seen rather than retried forever. Cancellation ends the loop quietly.
/// </remarks>
public sealed class ReconnectLoop(Backoff backoff, TimeProvider time, Func<Exception, bool> transient)
{
    /// <summary>
    /// Runs <paramref name="attempt"/> until <paramref name="cancellationToken"/> is cancelled. The
    /// attempt calls its first argument once it has made progress, and returns when the other side
    /// ended it. <paramref name="onLost"/> hears each loss (null: ended by the other side) and the
    /// delay before the next attempt.
    /// </summary>
    public async Task RunAsync(Func<Action, CancellationToken, Task> attempt, Action<Exception?, TimeSpan> onLost, CancellationToken cancellationToken)
    {
        var progressed = false;
        // Retried by the pipeline: what failed before any progress. After progress, the loop below starts afresh.
        var pipeline = backoff.RetryForever(
            time,
            e => !progressed && !cancellationToken.IsCancellationRequested && (e is EndedWithoutProgressException || transient(e)),
            (e, delay) => onLost(e is EndedWithoutProgressException ? null : e, delay));
        while (!cancellationToken.IsCancellationRequested)
        {
            Exception? lost = null;
            try
            {
                await pipeline.ExecuteAsync(async token =>
                {
                    progressed = false;
                    await attempt(() => progressed = true, token).ConfigureAwait(false);
                    if (!progressed)
                    {
                        throw new EndedWithoutProgressException();
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (progressed && transient(e))
            {
                lost = e;
            }
            // After progress (a stream that worked, then ended or broke): once more from the base delay.
            onLost(lost, backoff.Base);
            try
            {
                await Task.Delay(backoff.Base, time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>An attempt that returned without making progress: a failure like any other for the backoff.</summary>
    private sealed class EndedWithoutProgressException : Exception
    {
        public EndedWithoutProgressException()
            : base("the other side ended it before anything was received")
        {
        }
    }
}
