using Polly;
using Polly.Retry;

namespace ZenMesh.Hosting.Resilience;

/// <summary>
/// How a loop that reconnects or retries waits: from <see cref="Base"/>, doubling with jitter after
/// each failure in a row, never more than <see cref="Max"/>. Validated once, with the setting named.
/// </summary>
public sealed record Backoff
{
    public static Backoff Default { get; } = new(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30));

    public Backoff(TimeSpan @base, TimeSpan max)
    {
        if (@base <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(@base), @base, "the first delay of a backoff must be positive, for example 250ms");
        }
        if (max < @base)
        {
            throw new ArgumentOutOfRangeException(nameof(max), max, $"the longest delay of a backoff must be at least its first ({@base})");
        }
        Base = @base;
        Max = max;
    }

    public TimeSpan Base { get; }

    public TimeSpan Max { get; }

    /// <summary>Off only where a test wants the delays exact.</summary>
    public bool Jitter { get; init; } = true;

    /// <summary>
    /// A Polly retry on <paramref name="time"/> that retries, for as long as it takes, each failure
    /// <paramref name="retries"/> accepts, telling <paramref name="onRetry"/> the failure and the delay.
    /// </summary>
    public ResiliencePipeline RetryForever(TimeProvider time, Func<Exception, bool> retries, Action<Exception, TimeSpan> onRetry) =>
        new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e && retries(e)),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = Jitter,
                Delay = Base,
                MaxDelay = Max,
                OnRetry = args =>
                {
                    onRetry(args.Outcome.Exception!, args.RetryDelay);
                    return default;
                },
            })
            .Build();
}
