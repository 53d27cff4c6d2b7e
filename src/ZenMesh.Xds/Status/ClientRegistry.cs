using System.Collections.Concurrent;

namespace ZenMesh.Xds.Status;

/// <summary>
/// The streams that are connected now. A stream registers when it learns its node and removes itself
/// when it ends, so a returning client never sees another stream's state.
/// </summary>
public sealed class ClientRegistry
{
    private readonly ConcurrentDictionary<long, Func<ClientView?>> _streams = new();
    private readonly ConcurrentQueue<NackRecord> _recentNacks = new();
    private long _nextStreamId;

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
