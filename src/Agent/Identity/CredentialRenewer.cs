using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Upstream;
using ZenMesh.Contracts.V1;

namespace ZenMesh.Agent.Identity;

/// <summary>
/// Renews the edge credential two thirds into its life, over mutual TLS with the current one and a
/// new key; a failed attempt is retried with backoff while a third of the life remains.
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
        var failures = 0;
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
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                var csr = new CertificateRequest($"CN={current.NodeId}", key, HashAlgorithmName.SHA256).CreateSigningRequestPem();
                var issued = await client.RenewAsync(new RenewRequest { CsrPem = csr }, cancellationToken: stoppingToken).ResponseAsync.ConfigureAwait(false);
                var renewed = CredentialFiles.Save(options.Value.StateDir, issued.NodeId, current.ControlPlane, issued.CertificatePem, issued.CaCertificatePem, key, issued.IssuerPem);
                upstream.Credentials.Replace(renewed);
                justIssued = renewed.Serial;
                failures = 0;
                Log.Renewed(logger, renewed.NodeId, renewed.Serial, renewed.NotAfter);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RpcException or IOException or UnauthorizedAccessException)
            {
                failures++;
                var delay = TimeSpan.FromTicks(Math.Min(options.Value.MaxReconnectDelay.Ticks * 4, options.Value.ReconnectDelay.Ticks * (1L << Math.Min(failures, 16))));
                Log.Failed(logger, current.NodeId, current.NotAfter, e.Message, delay);
                await Task.Delay(delay, time, stoppingToken).ConfigureAwait(false);
            }
        }
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
