using ZenMesh.Agent.LastKnownGood;
using ZenMesh.Xds.LastKnownGood;

namespace ZenMesh.Agent.Status;

/// <summary>
/// What the agent serves and how fresh it is, swapped whole on every change so a reader never sees
/// half an update. "Confirmed" is the last moment the control plane said this config is current.
/// </summary>
public sealed class AgentStatus(TimeProvider time)
{
    private volatile State _state = new(null, null, null, 0, null, false, null, null, null, null);

    public sealed record State(
        string? Version,
        DateTimeOffset? ReceivedAt,
        string? Source,
        long Generation,
        DateTimeOffset? ConfirmedAt,
        bool Connected,
        DateTimeOffset? LastContact,
        string? LastError,
        string? Summary,
        Upstream.LocalRejection? LastLocalRejection);

    public State Current => _state;

    /// <summary>Raised after every change (the heartbeat reports promptly).</summary>
    public event Action? Changed;

    public void Serving(Generation generation, string source, bool confirmed)
    {
        var now = time.GetUtcNow();
        Update(s => s with
        {
            Version = generation.Snapshot.Version,
            ReceivedAt = generation.ReceivedAt,
            Source = source,
            Generation = generation.Sequence,
            Summary = generation.Snapshot.Summary,
            ConfirmedAt = confirmed ? now : s.ConfirmedAt ?? generation.ReceivedAt,
        });
    }

    public void Connected() => Update(s => s with { Connected = true, LastContact = time.GetUtcNow(), LastError = null });

    /// <summary>The control plane sent something: what is served is current as of now.</summary>
    public void Contact() => Update(s => s with { Connected = true, LastContact = time.GetUtcNow(), ConfirmedAt = time.GetUtcNow() });

    public void Rejected(Upstream.LocalRejection rejection) => Update(s => s with { LastLocalRejection = rejection });

    public void Disconnected(string error) => Update(s => s with { Connected = false, LastError = error });

    /// <summary>How long what is served has gone unconfirmed: zero while connected.</summary>
    public TimeSpan Staleness(State s) => s.Connected || s.ConfirmedAt is null ? TimeSpan.Zero : time.GetUtcNow() - s.ConfirmedAt.Value;

    private void Update(Func<State, State> change)
    {
        State before, after;
        do
        {
            before = _state;
            after = change(before);
        }
        while (Interlocked.CompareExchange(ref _state, after, before) != before);
        if (after != before)
        {
            Changed?.Invoke();
        }
    }
}
