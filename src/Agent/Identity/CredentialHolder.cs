namespace ZenMesh.Agent.Identity;

/// <summary>The credential in use, swapped whole on renewal; new connections present the newest.</summary>
public sealed class CredentialHolder(EdgeCredential? initial)
{
    private volatile EdgeCredential? _current = initial;

    public EdgeCredential? Current => _current;

    public void Replace(EdgeCredential renewed) => _current = renewed;
}
