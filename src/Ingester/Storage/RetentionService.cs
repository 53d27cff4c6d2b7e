using Microsoft.Extensions.Options;
using ZenMesh.Ingester.Hosting;

namespace ZenMesh.Ingester.Storage;

/// <summary>Runs retention at start and then every RetentionInterval; a failed pass is logged and tried again next time.</summary>
internal sealed partial class RetentionService(IEventStore store, IOptions<IngesterOptions> options, TimeProvider time, ILogger<RetentionService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RetentionInterval, time);
        try
        {
            do
            {
                try
                {
                    await store.ExpireAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Retention failing must not end the service: the next pass tries again.
                    Log.Failed(logger, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping (also when the host is disposed without being stopped first): not a failure.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "retention pass failed: {Reason}; trying again at the next interval")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
