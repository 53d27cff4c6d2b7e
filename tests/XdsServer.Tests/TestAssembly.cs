namespace ZenMesh.XdsServer.Tests.Infrastructure;

/// <summary>This test assembly's name, for the test-case discoverers linked into it (<see cref="StoreFactAttribute"/>).</summary>
internal static class TestAssembly
{
    public const string Name = "ZenMesh.XdsServer.Tests";
}
