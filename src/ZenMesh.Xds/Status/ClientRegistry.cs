using System.Collections.Concurrent;
using ZenMesh.Metrics;

namespace ZenMesh.Xds.Status;

/// <summary>
/// The streams that are connected now. A stream registers when it learns its node and removes itself
/// when it ends, so a returning client never sees another stream's state.
/// </summary>
public sealed class ClientRegistry
{
    private readonly ConcurrentDictionary<long, Func<ClientView?>> _streams = new();
    private readonly ConcurrentQueue<NackRecord> _recentNacks = new();
    private readonly ConcurrentDictionary<string, long> _pushes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _nacks = new(StringComparer.Ordinal);
    private long _nextStreamId;

    /// <summary>From a push to the client's ACK of it: how long clients take to take new config.</summary>
    public LatencyHistogram AckLatency { get; } = new();

    /// <summary>Responses with new config sent, by type URL (heartbeats not counted).</summary>
    public IReadOnlyDictionary<string, long> Pushes => _pushes;

    /// <summary>NACKs received, by type URL.</summary>
    public IReadOnlyDictionary<string, long> Nacks => _nacks;

    public void RecordPush(string typeUrl) => _pushes.AddOrUpdate(typeUrl, 1, (_, n) => n + 1);

    /// <summary>A client ACKed the version sent at <paramref name="sentAt"/>.</summary>
    public void RecordAck(DateTimeOffset? sentAt, DateTimeOffset now)
    {
        if (sentAt is { } at)
        {
            AckLatency.Observe(now - at);
        }
    }

    public long NextStreamId() => Interlocked.Increment(ref _nextStreamId);

    public IDisposable Register(long streamId, Func<ClientView?> view)
    {
        _streams[streamId] = view;
        return new Registration(this, streamId);
    }

    public IReadOnlyList<ClientView> Clients() =>
        _streams.Values.Select(v => v()).OfType<ClientView>().OrderBy(c => c.Node.Id, StringComparer.Ordinal).ThenBy(c => c.StreamId).ToList();

    public int Count => _streams.Count;

    /// <summary>The most recent NACKs across all clients (bounded), newest last.</summary>
    public IReadOnlyList<NackRecord> RecentNacks => [.. _recentNacks];

    public void RecordNack(NackRecord nack)
    {
        _nacks.AddOrUpdate(nack.TypeUrl, 1, (_, n) => n + 1);
        _recentNacks.Enqueue(nack);
        while (_recentNacks.Count > 100 && _recentNacks.TryDequeue(out _))
        {
        }
    }

    private sealed class Registration(ClientRegistry owner, long streamId) : IDisposable
    {
        public void Dispose() => owner._streams.TryRemove(streamId, out _);
    }
}
