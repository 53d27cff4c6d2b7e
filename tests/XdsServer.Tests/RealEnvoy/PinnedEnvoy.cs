namespace ZenMesh.XdsServer.Tests.RealEnvoy;

/// <summary>
/// The Envoy release every real-Envoy test runs and every deployment ships (compose, Kubernetes,
/// VM install), in one place: the deployment tests check each of them says the same.
/// </summary>
internal static class PinnedEnvoy
{
    public const string Version = "1.34.1";
    public const string Image = $"envoyproxy/envoy:v{Version}";
}
