using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The one writer under a failure that is not the engine's own (a bug, an unexpected exception):
/// that batch's callers get <see cref="StoreUnavailableException"/> at once instead of waiting
/// forever, the store says it cannot write, the writer keeps going, and its probe finds out by
/// itself when writes work again.
/// </summary>
public sealed class WriterFailureTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 10, 0, 0, TimeSpan.Zero));

    private IncomingEvent Event(string key) => new("default", "gh", key, "push", _time.GetUtcNow(), "{}"u8.ToArray(), "{}"u8.ToArray(), ["to-ci"]);

    [Fact]
    public async Task AnyExceptionInABatch_FailsThatBatch_AndTheWriterLivesOn_UntilItsProbeSucceeds()
    {
        await using var store = new FailingStore(new IngesterOptions { StoreProbeInterval = TimeSpan.FromSeconds(5) }, _time) { Failure = new InvalidOperationException("a bug in the batch") };

        var failed = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.AppendAsync(Event("first")).WaitAsync(TestTimeouts.Default));

        Assert.IsType<InvalidOperationException>(failed.InnerException);
        Assert.Equal((false, "InvalidOperationException: a bug in the batch"), (store.Health.Writable, store.Health.Problem));
        Assert.Equal(0, store.Pending);

        store.Failure = null;
        await TestTimeouts.Eventually(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(5));
            return Task.FromResult(store.Health.Writable);
        }, "the probe to find the store writable");
        Assert.True(store.Probes >= 1);
        Assert.False((await store.AppendAsync(Event("second")).WaitAsync(TestTimeouts.Default)).Duplicate);
    }

    /// <summary>A store whose commits and probes throw <see cref="Failure"/> while it is set.</summary>
    private sealed class FailingStore : GroupCommitStore
    {
        private int _next;

        public FailingStore(IngesterOptions options, TimeProvider time)
            : base(options, time, NullLogger.Instance) => StartWriter(0);

        public volatile Exception? Failure;

        public int Probes { get; private set; }

        public override string Location => "memory";

        protected override void Commit(IReadOnlyList<Work> batch)
        {
            if (Failure is { } failure)
            {
                throw failure;
            }
            foreach (var append in batch.OfType<Append>())
            {
                append.Outcome = new StoredEvent($"ev_{++_next}", Duplicate: false);
            }
        }

        protected override void Probe()
        {
            Probes++;
            if (Failure is { } failure)
            {
                throw failure;
            }
        }

        public override Task<IReadOnlyList<LeasedJob>> LeaseAsync(IReadOnlySet<string>? flows, int max, TimeSpan lease, CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<LeasedJob>>([]);

        public override Task<int> AckAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken) => Task.FromResult(0);

        public override Task ReleaseAsync(IReadOnlyList<string> jobIds, CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Count(string tenant, string endpoint) => _next;

        public override byte[]? Body(string eventId) => null;

        protected override ValueTask DisposeStoreAsync() => ValueTask.CompletedTask;
    }
}
