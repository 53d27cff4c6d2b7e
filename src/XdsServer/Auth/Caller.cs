namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// Who is calling the API and in which tenant: the token's own, or for the operator the tenant the
/// request names (default when it names none). Attached once authorization allowed the call.
/// </summary>
public sealed record Caller(string Tenant, Role Role, string TokenId, string TokenName)
{
    private const string Key = "zenmesh.caller";

    public static Caller Of(HttpContext http) => (Caller)http.Items[Key]!;

    /// <summary>The caller of a request that passed authorization; null on an anonymous one (the console's sign-in page).</summary>
    public static Caller? Find(HttpContext http) => http.Items.TryGetValue(Key, out var caller) ? caller as Caller : null;

    internal void AttachTo(HttpContext http) => http.Items[Key] = this;
}
