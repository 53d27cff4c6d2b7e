using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Identity;
using ZenMesh.Secrets;

namespace ZenMesh.Agent.Upstream;

/// <summary>
/// The one outbound connection to the control plane, shared by the config stream and renewal. Over
/// https it trusts only the CA the enrollment bundle named and presents the edge's current
/// certificate (a renewed one from the next connection on).
/// </summary>
public sealed class UpstreamChannel : IDisposable
{
    public UpstreamChannel(IOptions<AgentOptions> options, CredentialHolder credentials)
    {
        Address = options.Value.ControlPlane!;
        UsesTls = Address.StartsWith("https:", StringComparison.OrdinalIgnoreCase);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(20),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
        };
        if (UsesTls && credentials.Current is { } credential)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = ServerTrust.Pinned(credential.ServerCaPem);
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => credentials.Current!.Certificate;
        }
        Channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions { HttpHandler = handler });
        Credentials = credentials;
    }

    public string Address { get; }
    public bool UsesTls { get; }
    public GrpcChannel Channel { get; }
    public CredentialHolder Credentials { get; }

    public void Dispose() => Channel.Dispose();
}
