using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ZenMesh.Agent.Hosting;

/// <summary>Where the agent actually listens (a configured port 0 becomes a real one once started).</summary>
public sealed class AgentEndpoints
{
    internal ListenOptions? Xds { get; set; }
    internal ListenOptions? Status { get; set; }

    public IPEndPoint XdsEndPoint => Xds?.IPEndPoint ?? throw new InvalidOperationException("The agent has not started.");
    public IPEndPoint StatusEndPoint => Status?.IPEndPoint ?? throw new InvalidOperationException("The agent has not started.");
    public Uri XdsUri => new($"http://{XdsEndPoint}");
    public Uri StatusUri => new($"http://{StatusEndPoint}");
}
