namespace ZenMesh.XdsServer.Auth;

/// <summary>What a token may do within its tenant: viewers read, editors change desired state, admins also manage tokens.</summary>
public enum Role
{
    Viewer,
    Editor,
    Admin,
}
