using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Identity;

/// <summary>Says at start how xDS is secured: a new CA, and the warning that cleartext trusts any node id.</summary>
internal sealed partial class SecurityNotice(XdsServerOptions options, CertificateAuthority authority, bool caCreated, ILogger<SecurityNotice> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (caCreated)
        {
            Log.CaCreated(logger, authority.Directory);
        }
        if (!options.TlsEnabled)
        {
            Log.Cleartext(logger, options.BindAddress);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.CaCreated, Level = LogLevel.Information, Message = "created the control plane's CA in {Directory} (ca.key is mode 0600); it signs edge credentials. Replicas must share it")]
        public static partial void CaCreated(ILogger logger, string directory);

        [LoggerMessage(EventId = LogEventIds.CleartextXds, Level = LogLevel.Warning, Message = "xDS is served in cleartext on {Address} and trusts the node id each client presents (local development default). Use --tls before edges connect over a network")]
        public static partial void Cleartext(ILogger logger, string address);
    }
}
