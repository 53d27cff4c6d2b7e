using Microsoft.AspNetCore.Authorization;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// The least role an endpoint needs. <see cref="InTenant"/>: it acts on one tenant's resources,
/// so a token may only name its own tenant (the operator may name any). <see cref="OpenOnLoopback"/>:
/// anyone may call it while the HTTP listener is bound to loopback (metrics for a local scraper).
/// </summary>
public sealed record AccessRequirement(Role Minimum, bool InTenant, bool OpenOnLoopback = false) : IAuthorizationRequirement;
