using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using ZenMesh.Contracts.V1;
using ZenMesh.Flows;
using ZenMesh.Secrets;

namespace ZenMesh.Egress.Delivery;

/// <summary>
/// How the egress reaches a target, checked after DNS: the control plane judged the URL as written,
/// but a name can resolve anywhere later (DNS rebinding included). Delivering directly, it connects
/// only to addresses <see cref="TargetAddressRules"/> allows and verifies the certificate: against
/// the system's trust store, or the CA the flow names (an edge secret), or not at all when the flow
/// says so. Through Envoy, it resolves the name itself, refuses if any address is forbidden, and tells Envoy
/// which of the checked addresses to connect to.
/// </summary>
internal sealed partial class TargetConnections(SecretStore secrets, TimeProvider time, ILogger logger) : IDisposable
{
    private static readonly TimeSpan Remember = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string Host, int Port, bool Loopback), Resolved> _resolved = new();
    private readonly ConcurrentDictionary<(bool Loopback, string Ca, bool Insecure), HttpClient> _direct = new();

    /// <summary>Timeouts are per attempt (the flow's), so the clients' own are off.</summary>
    private static HttpClient Client(SocketsHttpHandler handler)
    {
        var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new System.Net.Http.Headers.ProductInfoHeaderValue("ZenMesh-Egress", "1"));
        return client;
    }

    /// <summary>The client for Envoy's egress listener on this host: no target rules apply to it.</summary>
    public HttpClient ToEnvoy { get; } = Client(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), AllowAutoRedirect = false, UseCookies = false });

    /// <summary>
    /// The client for a flow delivered directly, one per way of connecting and verifying (the
    /// certificate callback cannot tell which flow a connection is for, so each client knows its own).
    /// </summary>
    public HttpClient Direct(FlowPolicy flow) => _direct.GetOrAdd((flow.TargetAllowLoopback, flow.TargetCaSecretRef, flow.TargetTlsInsecure), key => Client(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        AllowAutoRedirect = false,
        UseCookies = false,
        ConnectCallback = (context, cancellationToken) => ConnectAsync(context, key.Loopback, cancellationToken),
        SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Verify(key.Ca, key.Insecure, flow, certificate, chain, errors) },
    }));

    /// <summary>
    /// Through Envoy: the address Envoy is to connect to (it does not resolve the name itself, see
    /// the compiler's ORIGINAL_DST clusters), or why nothing is sent. A name is refused when any of
    /// its addresses is forbidden; otherwise its addresses take turns, so one that does not answer
    /// does not hold every attempt. What DNS said is remembered for 30 s.
    /// </summary>
    public async ValueTask<(string? Problem, IPEndPoint? Address)> CheckedAddressAsync(FlowPolicy policy, CancellationToken cancellationToken)
    {
        var url = new Uri(policy.TargetUrl);
        var key = (url.IdnHost, url.Port, policy.TargetAllowLoopback);
        var now = time.GetUtcNow();
        if (!_resolved.TryGetValue(key, out var known) || known.Until <= now)
        {
            known = await ResolveCheckedAsync(url, policy.TargetAllowLoopback, cancellationToken).ConfigureAwait(false) with { Until = now + Remember };
            _resolved[key] = known;
        }
        if (known.Problem is not null || known.Addresses.Length == 0)
        {
            return (known.Problem ?? $"{url.IdnHost} did not resolve; not sent", null);
        }
        var turn = (uint)Interlocked.Increment(ref known.Turn.Value);
        return (null, new IPEndPoint(known.Addresses[turn % known.Addresses.Length], url.Port));
    }

    private static async Task<Resolved> ResolveCheckedAsync(Uri url, bool allowLoopback, CancellationToken cancellationToken)
    {
        try
        {
            var addresses = await ResolveAsync(url.IdnHost, cancellationToken).ConfigureAwait(false);
            var problem = addresses.Select(a => (Address: a, Problem: TargetAddressRules.Check(a, url.Port, allowLoopback))).FirstOrDefault(a => a.Problem is not null) is { Problem: { } p } bad
                ? Describe(url, bad.Address, p)
                : null;
            return new(problem, addresses, default, new());
        }
        catch (SocketException e)
        {
            return new($"{url.IdnHost} did not resolve ({e.Message}); not sent", [], default, new());
        }
    }

    /// <summary>What a target's name resolved to, until when, and whose turn is next.</summary>
    private sealed record Resolved(string? Problem, IPAddress[] Addresses, DateTimeOffset Until, StrongBox<int> Turn);

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowLoopback, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        var addresses = await ResolveAsync(endpoint.Host, cancellationToken).ConfigureAwait(false);
        var allowed = addresses.Where(a => TargetAddressRules.Check(a, endpoint.Port, allowLoopback) is null).ToArray();
        if (allowed.Length == 0)
        {
            var problem = addresses.Length == 0 ? "no address" : TargetAddressRules.Check(addresses[0], endpoint.Port, allowLoopback)!;
            throw new HttpRequestException($"{endpoint.Host} resolves only to addresses no target may have ({string.Join(", ", addresses.Select(a => a.ToString()))}): {(problem == "loopback" ? "the edge's own host, and the target does not set allowLoopback" : problem)}");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, endpoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
        IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);

    private static string Describe(Uri url, IPAddress address, string problem) =>
        $"{url.IdnHost} resolves to {address}, {(problem == "loopback" ? "the edge's own host, and the target does not set allowLoopback" : problem)}; not sent";

    /// <summary>The certificate check of a direct delivery: the system's trust store, the flow's CA (an edge secret), or none when the flow says so.</summary>
    private bool Verify(string caSecret, bool insecure, FlowPolicy flow, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (insecure)
        {
            Log.Insecure(logger, flow.Name, flow.TargetUrl);
            return true;
        }
        if (caSecret.Length == 0)
        {
            return errors == SslPolicyErrors.None;
        }
        var file = secrets.Directory is { } dir && caSecret.IndexOfAny(['/', '\\']) < 0 ? Path.Combine(dir, caSecret) : null;
        if (file is null || !File.Exists(file))
        {
            Log.CaMissing(logger, flow.Name, caSecret);
            return false;
        }
        return ServerTrust.Pinned(File.ReadAllText(file))(this, certificate, chain, errors);
    }

    public void Dispose()
    {
        ToEnvoy.Dispose();
        foreach (var client in _direct.Values)
        {
            client.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6410, Level = LogLevel.Warning, Message = "flow {Flow} delivers to {Url} without verifying its certificate (its target sets tls.insecureSkipVerify): anyone on the path can read and change these deliveries")]
        public static partial void Insecure(ILogger logger, string flow, string url);

        [LoggerMessage(EventId = 6411, Level = LogLevel.Warning, Message = "flow {Flow} verifies its target against the CA in secret '{Secret}', which is not in this edge's secrets directory; its deliveries fail until it is")]
        public static partial void CaMissing(ILogger logger, string flow, string secret);
    }
}
