namespace ZenMesh.Agent.LastKnownGood;

/// <summary>Looks at the edge's TLS secret files every few seconds (on the injected clock) and serves what changed: a rotation needs no restart and no change upstream.</summary>
internal sealed class EdgeSecretsRefresher(ISnapshotCache cache, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (cache is not EdgeSecretsCache secrets)
        {
            return;
        }
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                secrets.Refresh();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
