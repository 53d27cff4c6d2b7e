using Microsoft.Win32.SafeHandles;
using ZenMesh.Ingester.Storage;

namespace ZenMesh.Ingester.Tests.Infrastructure;

/// <summary>
/// The disk as the store's flusher sees it, held by the test: a sync waits while held (as a slow
/// disk would), and fails once told to (as a dying one would). Otherwise it really syncs.
/// </summary>
public sealed class HeldDisk : FileSync, IDisposable
{
    private readonly ManualResetEventSlim _open = new(initialState: true);
    private readonly SemaphoreSlim _entered = new(0);
    private volatile Exception? _failWith;

    /// <summary>Holds every sync from now on; <see cref="SyncStartedAsync"/> then waits for one that starts after this.</summary>
    public void Hold()
    {
        _open.Reset();
        while (_entered.Wait(0))
        {
        }
    }

    public void Release() => _open.Set();

    public void FailFromNowOn(Exception failure) => _failWith = failure;

    /// <summary>Waits until a sync has started (and is, if held, waiting).</summary>
    public async Task SyncStartedAsync()
    {
        if (!await _entered.WaitAsync(TestTimeouts.Default))
        {
            throw new TimeoutException("no sync started");
        }
    }

    public override void Sync(SafeFileHandle file)
    {
        _entered.Release();
        if (!_open.Wait(TestTimeouts.Default))
        {
            throw new IOException("the test never released the disk");
        }
        if (_failWith is { } failure)
        {
            throw failure;
        }
        base.Sync(file);
    }

    public void Dispose()
    {
        _open.Set();
        _open.Dispose();
        _entered.Dispose();
    }
}
