namespace ZenMesh.Egress.Intake;

/// <summary>The job stream from the ingester, for /status: connected or why not, and how many jobs came and were new.</summary>
public sealed class IntakeStatus
{
    private long _received;
    private long _recorded;
    private volatile string? _error = "not connected yet";
    private volatile bool _connected;

    public bool Connected => _connected;

    public string? LastError => _error;

    public long Received => Interlocked.Read(ref _received);

    public long Recorded => Interlocked.Read(ref _recorded);

    public void Connection(bool connected, string? error)
    {
        _connected = connected;
        _error = error;
    }

    public void Took(int received, int recorded)
    {
        Interlocked.Add(ref _received, received);
        Interlocked.Add(ref _recorded, recorded);
    }
}
