using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ZenMesh.XdsServer.Hosting;

/// <summary>Where the server actually listens (a configured port 0 becomes a real one once started).</summary>
public sealed class BoundEndpoints
{
    internal ListenOptions? Ads { get; set; }
    internal ListenOptions? Http { get; set; }

    public IPEndPoint AdsEndPoint => Ads?.IPEndPoint ?? throw new InvalidOperationException("The server has not started.");
    public IPEndPoint HttpEndPoint => Http?.IPEndPoint ?? throw new InvalidOperationException("The server has not started.");
    public Uri AdsUri => new($"{(AdsUsesTls ? "https" : "http")}://{AdsEndPoint}");
    public Uri HttpUri => new($"http://{HttpEndPoint}");
    public bool AdsUsesTls { get; internal set; }
}
