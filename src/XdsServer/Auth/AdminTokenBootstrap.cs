using Microsoft.Extensions.Options;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// First start: an admin token for tenant "default", written to {data-dir}/admin-token (mode 0600)
/// and announced in the log. With Xds:AdminToken (env ZENMESH_ADMIN_TOKEN) that value is the admin
/// token instead, and no file is written.
/// </summary>
internal sealed partial class AdminTokenBootstrap(TokenStore tokens, IOptions<XdsServerOptions> options, TimeProvider time, ILogger<AdminTokenBootstrap> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (!string.IsNullOrEmpty(o.AdminToken))
        {
            tokens.Create("default", Role.Admin, "admin (from configuration)", time.GetUtcNow(), o.AdminToken);
            return Task.CompletedTask;
        }
        if (!tokens.IsEmpty)
        {
            return Task.CompletedTask;
        }
        var (_, value) = tokens.Create("default", Role.Admin, "admin (first start)", time.GetUtcNow());
        var file = Path.GetFullPath(Path.Combine(o.DataDir, "admin-token"));
        File.WriteAllText(file, value + Environment.NewLine);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        Log.Created(logger, file);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.AdminTokenCreated, Level = LogLevel.Warning, Message = "created an admin API token for tenant 'default' and wrote it to {File} (mode 0600); use it as 'Authorization: Bearer <token>'")]
        public static partial void Created(ILogger logger, string file);
    }
}
