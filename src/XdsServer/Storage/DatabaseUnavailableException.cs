namespace ZenMesh.XdsServer.Storage;

/// <summary>The control plane's database cannot be reached; says which and what to check.</summary>
public sealed class DatabaseUnavailableException(string message, Exception inner) : Exception(message, inner);
