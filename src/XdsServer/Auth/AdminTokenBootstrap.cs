using Microsoft.Extensions.Options;
using ZenMesh.Secrets;
using ZenMesh.XdsServer.Hosting;

namespace ZenMesh.XdsServer.Auth;

/// <summary>
/// The operator's token. First start: a random one, written to {data-dir}/admin-token (created
/// with mode 0600) and announced in the log. With Xds:AdminToken (env ZENMESH_ADMIN_TOKEN) that
/// value is the operator's token instead, no file is written, and a value configured before it is
/// revoked. A database from before the operator role has its first admin token promoted.
/// </summary>
internal sealed partial class AdminTokenBootstrap(TokenStore tokens, IOptions<XdsServerOptions> options, TimeProvider time, ILogger<AdminTokenBootstrap> logger) : IHostedService
{
    public const string ConfiguredName = "operator (from configuration)";
    public const string FirstStartName = "operator (first start)";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (tokens.PromoteFirstAdmins() > 0)
        {
            Log.Promoted(logger);
        }
        if (!string.IsNullOrEmpty(o.AdminToken))
        {
            tokens.Create(ApiToken.PlatformTenant, Role.Operator, ConfiguredName, time.GetUtcNow(), o.AdminToken);
            if (tokens.RevokeConfiguredOperatorsExcept(o.AdminToken, ConfiguredName) > 0)
            {
                Log.PreviousRevoked(logger);
            }
            return Task.CompletedTask;
        }
        if (tokens.HasOperator)
        {
            return Task.CompletedTask;
        }
        var (_, value) = tokens.Create(ApiToken.PlatformTenant, Role.Operator, FirstStartName, time.GetUtcNow());
        var file = Path.GetFullPath(Path.Combine(o.DataDir, "admin-token"));
        SecretFile.Write(file, value + Environment.NewLine);
        Log.Created(logger, file);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.AdminTokenCreated, Level = LogLevel.Warning, Message = "created the operator's API token and wrote it to {File} (mode 0600); use it as 'Authorization: Bearer <token>'")]
        public static partial void Created(ILogger logger, string file);

        [LoggerMessage(EventId = LogEventIds.AdminTokenPromoted, Level = LogLevel.Warning, Message = "the first admin token of tenant 'default' is now the operator's token (same value): it manages tenants and may act in any of them")]
        public static partial void Promoted(ILogger logger);

        [LoggerMessage(EventId = LogEventIds.AdminTokenReplaced, Level = LogLevel.Warning, Message = "Xds:AdminToken (ZENMESH_ADMIN_TOKEN) changed: the operator token configured before it is revoked")]
        public static partial void PreviousRevoked(ILogger logger);
    }
}
