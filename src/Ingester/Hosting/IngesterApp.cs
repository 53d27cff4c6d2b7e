using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ZenMesh.Contracts.V1;
using ZenMesh.Ingester.Handoff;
using ZenMesh.Ingester.Intake;
using ZenMesh.Ingester.Policies;
using ZenMesh.Ingester.Status;
using ZenMesh.Ingester.Storage;
using ZenMesh.Hosting;
using ZenMesh.Secrets;
using ZenMesh.Observability;
using ZenMesh.Xds.Client;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Ingester.Hosting;

/// <summary>Builds the ingester: options, secret store, endpoint policies, the event store, and the webhook intake.</summary>
public static class IngesterApp
{
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--port"] = "Ingester:Port",
        ["--bind"] = "Ingester:BindAddress",
        ["--data-dir"] = "Ingester:DataDir",
        ["--secrets-dir"] = "Ingester:SecretsDir",
        ["--xds"] = "Ingester:Xds",
        ["--edge"] = "Ingester:Edge",
        ["--stream-port"] = "Ingester:StreamPort",
        ["--stream-bind"] = "Ingester:StreamBindAddress",
        ["--health-port"] = "Ingester:HealthPort",
        ["--health-bind"] = "Ingester:HealthBindAddress",
        ["--stream-credential"] = "Ingester:StreamCredentialDir",
        ["--postgres"] = "Ingester:Postgres",
        ["--postgres-file"] = "Ingester:PostgresFile",
        ["--store"] = "Ingester:Store",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var (builder, options) = EdgeServiceBuilder.Create<IngesterOptions>(args, args, IngesterOptions.Section, Switches, Validate, "ingester");
        builder.Services.AddSingleton<EndpointPolicies>();
        if (options.Postgres is { Length: > 0 })
        {
            builder.Services.AddSingleton<IEventStore, PostgresEventStore>();
        }
        else
        {
            builder.Services.AddSingleton<IEventStore, SqliteEventStore>();
        }
        builder.Services.AddSingleton<IntakeCounters>();
        builder.Services.AddSingleton<IntakeLog>();
        builder.Services.AddSingleton<HookEndpoint>();
        builder.Services.AddSingleton<ConfigStatus>();
        builder.Services.AddHostedService(s => new PolicySubscription(
            new PolicySource(options.Xds, options.Edge, options.DataDir),
            TypeUrls.EndpointPolicy,
            policies => s.GetRequiredService<EndpointPolicies>().Replace(policies.Resources.Values.Select(r => r.Body.Unpack<EndpointPolicy>())),
            s.GetRequiredService<ConfigStatus>(),
            s.GetRequiredService<TimeProvider>(),
            s.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddHostedService<RetentionService>();
        builder.Services.AddSingleton<HandoffCounters>();
        var peers = options.StreamCredentialDir is { Length: > 0 } credential ? new EdgePeerTrust(credential) : null;
        if (peers?.Problem() is { } unusable)
        {
            throw new OptionsValidationException(IngesterOptions.Section, typeof(IngesterOptions), [$"Ingester:StreamCredentialDir (--stream-credential): {unusable}"]);
        }
        builder.Services.AddSingleton(new SubscriberAuthentication(ServiceToken.LoadOrCreate(options.StreamSecret, "Ingester:StreamSecret", options.DataDir, SubscriberAuthentication.FileName, "zm_stream_"), mutualTls: peers is not null));
        builder.Services.AddServiceAccess(ServiceToken.LoadOrCreate(options.ApiToken, "Ingester:ApiToken", options.DataDir));
        builder.Services.AddGrpc();
        builder.Services.AddStrictMessageParsing();
        var endpoints = new IngesterEndpoints();
        builder.Services.AddSingleton(endpoints);
        builder.WebHost.ConfigureKestrel(k =>
        {
            // A sender that trickles its headers or body is dropped instead of holding a connection
            // and a buffer: providers send a webhook in one burst, far above these rates.
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            k.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 1024, gracePeriod: TimeSpan.FromSeconds(5));
            k.Listen(IPAddress.Parse(options.BindAddress), options.Port, l => endpoints.Hooks.Capture(l));
            if (options.HealthPort is { } health)
            {
                k.Listen(IPAddress.Parse(options.HealthBindAddress), health, l => endpoints.Health.Capture(l));
            }
            // The egress's stream: HTTP/2 without TLS (h2c) on its own port, loopback unless configured.
            k.Listen(IPAddress.Parse(options.StreamBindAddress), options.StreamPort, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                if (peers is not null)
                {
                    // Both ends are this edge: its certificate serves, and only its certificate may call.
                    l.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
                    {
                        ServerCertificateSelector = (_, _) => peers.Current().Certificate,
                        ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.RequireCertificate,
                        ClientCertificateValidation = (presented, _, _) => peers.IsPeer(presented),
                    });
                }
                endpoints.Stream.Capture(l, tls: peers is not null);
            });
        });
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseServiceAccess();
        var hooks = app.MapGroup("").ServedOn(endpoints.Hooks);
        hooks.MapHooks();
        hooks.MapIngesterMetrics();
        (options.HealthPort is null ? hooks : app.MapGroup("").ServedOn(endpoints.Health))
            .MapGet("/healthz", (IEventStore store) => store.Health is { Writable: false } down
                // Unhealthy while webhooks cannot be stored: a balancer sends them to an ingester that can.
                ? Results.Json(new { status = "store_unwritable", problem = down.Problem, since = down.Since, pending = store.Pending }, statusCode: StatusCodes.Status503ServiceUnavailable)
                : Results.Json(new { status = "ok", pending = store.Pending })).AllowAnonymous();
        hooks.MapGet("/status", (EndpointPolicies policies, IEventStore store, IntakeCounters counters, ConfigStatus config) => Results.Json(new { endpoints = policies.Count, config = config.Current, pending = store.Pending, openJobs = store.OpenJobs, store = store.Location, outcomes = counters.Snapshot() }))
            .RequireAuthorization(ServiceAccess.LocalOrToken);
        // The subscriber proves itself on each call with the stream secret (SubscriberAuthentication).
        app.MapGroup("").ServedOn(endpoints.Stream).AllowAnonymous().MapGrpcService<EventsService>();
        return app;
    }

    private static List<string> Validate(IngesterOptions o)
    {
        var problems = new List<string>();
        ServiceOptionChecks.Bind(problems, IngesterOptions.Section, o.BindAddress);
        if (!IPAddress.TryParse(o.StreamBindAddress, out _))
        {
            problems.Add($"Ingester:StreamBindAddress (--stream-bind) '{o.StreamBindAddress}' is not an IP address; use 127.0.0.1 (the default: the egress beside it), or an address the egress reaches.");
        }
        foreach (var (value, key, file) in new[] { (o.ApiToken, "Ingester:ApiToken", ServiceToken.FileName), (o.StreamSecret, "Ingester:StreamSecret", Handoff.SubscriberAuthentication.FileName) })
        {
            if (ServiceToken.Weakness(value, key, file) is { } weak)
            {
                problems.Add(weak);
            }
        }
        ServiceOptionChecks.Port(problems, IngesterOptions.Section, o.Port);
        ServiceOptionChecks.Edge(problems, IngesterOptions.Section, o.Edge);
        ServiceOptionChecks.HttpUrl(problems, "Ingester:Xds", "--xds", o.Xds, "the agent's relay, e.g. http://127.0.0.1:18001");
        if (o.StreamPort is < 0 or > 65535 || (o.StreamPort == o.Port && o.Port != 0))
        {
            problems.Add($"Ingester:StreamPort (--stream-port) {o.StreamPort} is not a port of its own; use 0-65535, not the webhook port {o.Port}.");
        }
        if (o.Retention <= TimeSpan.Zero || o.RetentionInterval <= TimeSpan.Zero)
        {
            problems.Add($"Ingester:Retention {o.Retention} and Ingester:RetentionInterval {o.RetentionInterval} must be positive (defaults 7.00:00:00 and 01:00:00).");
        }
        ServiceOptionChecks.Postgres(problems, "Ingester:Postgres", o.Postgres);
        if (o.MaxPending < 0 || o.MaxBatch < 1)
        {
            problems.Add("Ingester:MaxPending must be at least 0 and Ingester:MaxBatch at least 1.");
        }
        if (o.Store is not (null or "sqlite"))
        {
            problems.Add(o.Store == "log"
                ? "Ingester:Store (--store) 'log': the log store was removed; the embedded store is SQLite. Leave --store out (a data directory that still holds log events is refused at start, saying how to drain it)."
                : $"Ingester:Store (--store) '{o.Store}' is not a store; the embedded store is 'sqlite' (leave --store out), or give --postgres for several ingesters.");
        }
        if (o.DedupWriteBatch < 1)
        {
            problems.Add($"Ingester:DedupWriteBatch {o.DedupWriteBatch} must be at least 1 (default 65536).");
        }
        if (o.StoreProbeInterval <= TimeSpan.Zero)
        {
            problems.Add($"Ingester:StoreProbeInterval {o.StoreProbeInterval} must be positive (default 00:00:05).");
        }
        if (o.DedupWindow <= TimeSpan.Zero)
        {
            problems.Add($"Ingester:DedupWindow {o.DedupWindow} must be positive (default 7.00:00:00).");
        }
        return problems;
    }
}
