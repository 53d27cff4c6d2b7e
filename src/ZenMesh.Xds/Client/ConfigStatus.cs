namespace ZenMesh.Xds.Client;

/// <summary>Where a service's config comes from and how current it is, for /status.</summary>
public sealed class ConfigStatus
{
    private volatile State _state = new(false, null, null, null, null);

    public sealed record State(bool Connected, string? LastError, string? Version, string? Source, DateTimeOffset? ReceivedAt);

    public State Current => _state;

    public void Connection(bool connected, string? error) => _state = _state with { Connected = connected, LastError = error };

    public void Serving(string version, string source, DateTimeOffset receivedAt) => _state = _state with { Version = version, Source = source, ReceivedAt = receivedAt };
}
