using Microsoft.Extensions.Options;
using Npgsql;
using ZenMesh.Hosting.Resilience;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Storage;

/// <summary>
/// Keeps this replica in step with the others sharing a PostgreSQL database: LISTEN for their
/// changes and reload what each names; after every (re)connection and on a slow poll, reload
/// everything, so a notification missed while disconnected costs a delay, never a divergence.
/// With SQLite there is one server and nothing to follow. A lost feed reconnects with the one
/// backoff (<see cref="ReconnectLoop"/>).
/// </summary>
internal sealed partial class ReplicaSync(ControlPlaneDatabase database, IEnumerable<IReplicatedState> states, IOptions<XdsServerOptions> options, TimeProvider time, ILogger<ReplicaSync> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database is not PostgresControlPlaneDatabase postgres)
        {
            return;
        }
        var description = database.Describe();
        var lostBefore = false;
        var loop = new ReconnectLoop(Backoff.Default, time, e => e is NpgsqlException or IOException or TimeoutException);
        await loop.RunAsync(
            async (progressed, token) =>
            {
                await FollowAsync(postgres, () =>
                {
                    progressed();
                    if (lostBefore)
                    {
                        Log.Reconnected(logger, description);
                    }
                    lostBefore = false;
                }, token).ConfigureAwait(false);
            },
            (lost, delay) =>
            {
                lostBefore = true;
                Log.Disconnected(logger, description, lost?.Message ?? "the database closed the connection", delay);
            },
            stoppingToken).ConfigureAwait(false);
    }

    /// <summary>One connection: LISTEN, reload everything, then reload what each notification names (and everything at each poll) until it breaks.</summary>
    private async Task FollowAsync(PostgresControlPlaneDatabase postgres, Action listening, CancellationToken stoppingToken)
    {
        var poll = options.Value.ReplicaPollInterval;
        await using var connection = new NpgsqlConnection(postgres.ConnectionString);
        await connection.OpenAsync(stoppingToken).ConfigureAwait(false);
        var pending = System.Threading.Channels.Channel.CreateUnbounded<string>();
        connection.Notification += (_, e) => pending.Writer.TryWrite(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN {PostgresControlPlaneDatabase.Channel}", connection))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
        }
        listening();
        RefreshAll();
        while (!stoppingToken.IsCancellationRequested)
        {
            // WaitAsync returns after a notification arrives, or false when the poll is due.
            if (!await connection.WaitAsync(poll, stoppingToken).ConfigureAwait(false))
            {
                RefreshAll();
                continue;
            }
            var topics = new HashSet<string>(StringComparer.Ordinal);
            while (pending.Reader.TryRead(out var topic))
            {
                topics.Add(topic);
            }
            foreach (var state in states.Where(s => topics.Contains(s.Topic)))
            {
                Refresh(state);
            }
        }
    }

    private void RefreshAll()
    {
        foreach (var state in states)
        {
            Refresh(state);
        }
    }

    private void Refresh(IReplicatedState state)
    {
        try
        {
            state.Refresh();
        }
        catch (Exception e) when (e is NpgsqlException or DesiredStateLoadException or IOException)
        {
            // The next notification or poll tries again; meanwhile this replica serves what it has.
            Log.RefreshFailed(logger, state.Topic, e.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.ReplicaDisconnected, Level = LogLevel.Warning, Message = "lost the change feed of {Database} ({Reason}); still serving the last state, retrying in {Delay}")]
        public static partial void Disconnected(ILogger logger, string database, string reason, TimeSpan delay);

        [LoggerMessage(EventId = LogEventIds.ReplicaReconnected, Level = LogLevel.Information, Message = "following {Database} again; reloaded everything")]
        public static partial void Reconnected(ILogger logger, string database);

        [LoggerMessage(EventId = LogEventIds.ReplicaRefreshFailed, Level = LogLevel.Warning, Message = "could not reload {Topic} after another replica changed it: {Reason}; serving the last state, will retry")]
        public static partial void RefreshFailed(ILogger logger, string topic, string reason);
    }
}
