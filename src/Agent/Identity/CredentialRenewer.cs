using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Upstream;
using ZenMesh.Contracts.V1;
using ZenMesh.Hosting.Resilience;

namespace ZenMesh.Agent.Identity;

/// <summary>
/// Renews the edge credential two thirds into its life, over mutual TLS with the current one and a
/// new key; a failed attempt is retried with the one backoff while a third of the life remains.
/// </summary>
internal sealed partial class CredentialRenewer(UpstreamChannel upstream, IOptions<AgentOptions> options, TimeProvider time, ILogger<CredentialRenewer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!upstream.UsesTls)
        {
            return;
        }
        var client = new EdgeEnrollment.EdgeEnrollmentClient(upstream.Channel);
        // The one backoff, retrying a failed renewal for as long as it takes (the credential stays valid meanwhile).
        var retry = new Backoff(options.Value.ReconnectDelay, options.Value.MaxReconnectDelay * 4).RetryForever(
            time,
            e => e is RpcException or IOException or UnauthorizedAccessException,
            (e, delay) => Log.Failed(logger, upstream.Credentials.Current?.NodeId ?? "?", upstream.Credentials.Current?.NotAfter ?? default, e.Message, delay));
        string? justIssued = null;
        while (!stoppingToken.IsCancellationRequested && upstream.Credentials.Current is { } current)
        {
            var wait = current.RenewAt - time.GetUtcNow();
            if (wait <= TimeSpan.Zero && current.Serial == justIssued)
            {
                // Due already although just issued: this clock runs ahead of the control plane's.
                // Renewing again would only loop; wait a tenth of the life (at most an hour) instead.
                var lifetime = current.NotAfter - current.NotBefore;
                wait = lifetime / 10 < TimeSpan.FromHours(1) ? lifetime / 10 : TimeSpan.FromHours(1);
                Log.Skew(logger, current.NodeId, current.RenewAt, time.GetUtcNow());
                justIssued = null;
            }
            try
            {
                if (wait > TimeSpan.Zero)
                {
                    // In steps: a clock that jumps (suspend, NTP) is noticed within the hour.
                    await Task.Delay(wait < TimeSpan.FromHours(1) ? wait : TimeSpan.FromHours(1), time, stoppingToken).ConfigureAwait(false);
                    continue;
                }
                var renewed = await retry.ExecuteAsync(token => RenewAsync(client, current, token), stoppingToken).ConfigureAwait(false);
                upstream.Credentials.Replace(renewed);
                justIssued = renewed.Serial;
                Log.Renewed(logger, renewed.NodeId, renewed.Serial, renewed.NotAfter);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One renewal: a new key, its CSR signed over mutual TLS with the current credential, the result saved.</summary>
    private async ValueTask<EdgeCredential> RenewAsync(EdgeEnrollment.EdgeEnrollmentClient client, EdgeCredential current, CancellationToken cancellationToken)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest($"CN={current.NodeId}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
        var issued = await client.RenewAsync(new RenewRequest { CsrPem = csr }, cancellationToken: cancellationToken).ResponseAsync.ConfigureAwait(false);
        return CredentialFiles.Save(options.Value.StateDir, issued.NodeId, current.ControlPlane, issued.CertificatePem, issued.CaCertificatePem, key, issued.IssuerPem);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = LogEventIds.CredentialRenewed, Level = LogLevel.Information, Message = "renewed the credential of edge '{Edge}': serial {Serial}, valid until {NotAfter:O}")]
        public static partial void Renewed(ILogger logger, string edge, string serial, DateTimeOffset notAfter);

        [LoggerMessage(EventId = LogEventIds.ClockSkew, Level = LogLevel.Warning, Message = "the credential of edge '{Edge}' just issued is already due for renewal ({RenewAt:O}, local time {Now:O}): this machine's clock runs ahead of the control plane's. Fix the clock (NTP)")]
        public static partial void Skew(ILogger logger, string edge, DateTimeOffset renewAt, DateTimeOffset now);

        [LoggerMessage(EventId = LogEventIds.CredentialRenewalFailed, Level = LogLevel.Warning, Message = "could not renew the credential of edge '{Edge}' (expires {NotAfter:O}): {Reason}; retrying in {Delay}")]
        public static partial void Failed(ILogger logger, string edge, DateTimeOffset notAfter, string reason, TimeSpan delay);
    }
}
