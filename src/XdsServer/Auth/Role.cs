namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// What a token may do. Within its tenant: viewers read, editors change desired state, admins also
/// manage the tenant's tokens. The operator runs the platform: tenants, the admin views, and any
/// tenant's API (named with the ZenMesh-Tenant header).
/// </summary>
public enum Role
{
    Viewer,
    Editor,
    Admin,
    Operator,
}
