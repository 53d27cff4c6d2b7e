using ZenMesh.XdsServer.Model;

namespace ZenMesh.XdsServer.Storage;

/// <summary>One resource created, updated or deleted by a change of desired state.</summary>
public sealed record Change(ResourceKind Kind, string Tenant, string Name, ChangeAction Action, object? Spec);

public enum ChangeAction
{
    Created,
    Updated,
    Deleted,
}
