namespace ZenMesh.XdsServer.Storage;

/// <summary>A topic and what to reload for it.</summary>
internal sealed class ReplicatedState(string topic, Action refresh) : IReplicatedState
{
    public string Topic { get; } = topic;

    public void Refresh() => refresh();
}
