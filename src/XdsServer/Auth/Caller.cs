namespace ZenMesh.XdsServer.Auth;

/// <summary>Who is calling the API: the tenant and role of their token.</summary>
public sealed record Caller(string Tenant, Role Role, string TokenId)
{
    private const string Key = "zenmesh.caller";

    public static Caller Of(HttpContext http) => (Caller)http.Items[Key]!;

    internal void AttachTo(HttpContext http) => http.Items[Key] = this;
}
