using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;
using ZenMesh.Ingester.Storage;
using ZenMesh.Ingester.Tests.Infrastructure;

namespace ZenMesh.Ingester.Tests.Storage;

/// <summary>
/// The embedded store commits without a sync and syncs its log on a second stage, so the writer can
/// go on meanwhile. With the disk held by the test: nobody is answered, remembered or handed a job
/// before the sync that covers it is done; writing goes on while a sync is in flight; and a failed
/// sync answers with an error and makes the store refuse everything until a restart, which finds
/// every committed event exactly once.
/// </summary>
public sealed class DurableAnswerTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);
    private readonly string _dataDir = Directory.CreateTempSubdirectory("zenmesh-durable-").FullName;
    private readonly HeldDisk _disk = new();
    private SqliteEventStore _store = null!;

    public Task InitializeAsync()
    {
        _store = Open(_disk);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _disk.Release();
        await _store.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    public void Dispose() => _disk.Dispose();

    private SqliteEventStore Open(FileSync disk) =>
        new(Options.Create(new IngesterOptions { DataDir = _dataDir }), TimeProvider.System, NullLogger<SqliteEventStore>.Instance, disk);

    private Task<StoredEvent> AppendAsync(string key, SqliteEventStore? store = null) =>
        (store ?? _store).AppendAsync(new IncomingEvent("default", "gh", key, "push", DateTimeOffset.UtcNow, "{}"u8.ToArray(), Encoding.UTF8.GetBytes(key), ["to-ci"]));

    private Task<IReadOnlyList<LeasedJob>> LeaseAsync() =>
        _store.LeaseAsync(null, 100, TimeSpan.FromSeconds(30), CancellationToken.None).WaitAsync(TestTimeouts.Default);

    [Fact]
    public async Task AnEvent_IsAnsweredAndHandedOut_OnlyOnceItsSyncIsDone()
    {
        _disk.Hold();
        var first = AppendAsync("d-1");
        await _disk.SyncStartedAsync();

        await Task.Delay(Settle);
        // Committed (readable), but neither answered nor handed to a subscriber while unsynced.
        Assert.Equal(1, _store.Count("default", "gh"));
        Assert.False(first.IsCompleted, "the sender was answered before its event was synced");
        Assert.Empty(await LeaseAsync());

        _disk.Release();
        var stored = await first.WaitAsync(TestTimeouts.Default);
        Assert.False(stored.Duplicate);
        Assert.Equal([$"{stored.Id}/to-ci"], (await LeaseAsync()).Select(j => j.JobId));
    }

    [Fact]
    public async Task ARedelivery_OfAnEventBeingSynced_WaitsForThatSync_ThenIsAReplay()
    {
        _disk.Hold();
        var first = AppendAsync("d-1");
        await _disk.SyncStartedAsync();
        var again = AppendAsync("d-1");

        await Task.Delay(Settle);
        Assert.False(again.IsCompleted, "a redelivery was answered before the original was synced");

        _disk.Release();
        var (original, replay) = (await first.WaitAsync(TestTimeouts.Default), await again.WaitAsync(TestTimeouts.Default));
        Assert.Equal((original.Id, false, true), (replay.Id, original.Duplicate, replay.Duplicate));
        Assert.Equal(1, _store.Count("default", "gh"));
    }

    [Fact]
    public async Task TheWriter_GoesOnCommitting_WhileASyncIsInFlight()
    {
        _disk.Hold();
        var first = AppendAsync("d-1");
        await _disk.SyncStartedAsync();

        var second = AppendAsync("d-2");
        var third = AppendAsync("d-3");
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (_store.Count("default", "gh") < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(3, _store.Count("default", "gh"));
        Assert.False(first.IsCompleted || second.IsCompleted || third.IsCompleted, "an event was answered before a sync covered it");

        _disk.Release();
        var ids = (await Task.WhenAll(first, second, third).WaitAsync(TestTimeouts.Default)).Select(s => s.Id);
        Assert.Equal(3, ids.Distinct().Count());
    }

    [Fact]
    public async Task AFailedSync_AnswersWithAnError_ThenTheStoreRefusesEverything_UntilARestartFindsTheEventOnce()
    {
        _disk.Hold();
        _disk.FailFromNowOn(new IOException("EIO: the disk went away"));
        var first = AppendAsync("d-1");
        await _disk.SyncStartedAsync();
        _disk.Release();

        var failure = await Assert.ThrowsAsync<IOException>(() => first.WaitAsync(TestTimeouts.Default));
        Assert.Contains("EIO: the disk went away", failure.Message, StringComparison.Ordinal);
        Assert.Contains("restarted", failure.Message, StringComparison.Ordinal);
        // Committed but never confirmed: a redelivery must not be told it is stored (a replay), nor may anything new be.
        await Assert.ThrowsAsync<IOException>(() => AppendAsync("d-1").WaitAsync(TestTimeouts.Default));
        await Assert.ThrowsAsync<IOException>(() => AppendAsync("d-2").WaitAsync(TestTimeouts.Default));

        await _store.DisposeAsync();
        _store = Open(new FileSync());
        var replay = await AppendAsync("d-1").WaitAsync(TestTimeouts.Default);
        Assert.True(replay.Duplicate);
        Assert.Equal(1, _store.Count("default", "gh"));
        Assert.False((await AppendAsync("d-2").WaitAsync(TestTimeouts.Default)).Duplicate);
    }
}
