using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Xds;
using ZenMesh.Hosting;
using ZenMesh.Xds.Client;
using ZenMesh.XdsServer.Auth;
using ZenMesh.XdsServer.Sources;

using ZenMesh.XdsServer.OperatorConsole;

namespace ZenMesh.XdsServer.Hosting;

/// <summary>Builds the control plane: options, cache, protocol services, admin endpoints, Kestrel on two ports.</summary>
public static class XdsServerApp
{
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--resources"] = "Xds:ResourcesFile",
        ["--ads-port"] = "Xds:AdsPort",
        ["--http-port"] = "Xds:HttpPort",
        ["--bind"] = "Xds:BindAddress",
        ["--data-dir"] = "Xds:DataDir",
        ["--postgres"] = "Xds:PostgresConnectionString",
        ["--postgres-file"] = "Xds:PostgresConnectionStringFile",
        ["--tls"] = "Xds:Tls",
        ["--http-tls"] = "Xds:HttpTls",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json ships beside the binary; relative paths on the command line stay relative to the caller.
        // "--tls" and "--http-tls" alone mean "true", as flags should.
        args = [.. args.Select((a, i) => a is "--tls" or "--http-tls" && (i + 1 >= args.Length || !bool.TryParse(args[i + 1], out _)) ? (a == "--tls" ? "--Xds:Tls=true" : "--Xds:HttpTls=true") : a)];
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (Environment.GetEnvironmentVariable("ZENMESH_ADMIN_TOKEN") is { Length: > 0 } adminToken)
        {
            builder.Configuration.AddInMemoryCollection([KeyValuePair.Create<string, string?>("Xds:AdminToken", adminToken)]);
        }
        builder.Configuration.AddCommandLine(args, ZenMesh.Observability.ServiceTelemetry.WithSwitches(Switches));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        ServiceOptionChecks.ReadFileInto(builder.Configuration, "Xds:PostgresConnectionString");
        var options = builder.Configuration.GetSection(XdsServerOptions.Section).Get<XdsServerOptions>() ?? new XdsServerOptions();
        var problems = Validate(options);
        problems.AddRange(ZenMesh.Observability.ServiceTelemetry.Problems(builder.Configuration));
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(XdsServerOptions.Section, typeof(XdsServerOptions), problems);
        }
        ZenMesh.Observability.ServiceTelemetry.AddServiceTelemetry(builder, "control-plane", null);
        var authority = Identity.CertificateAuthority.LoadOrCreate(options.CaPath, TimeProvider.System, out var caCreated);
        var services = builder.Services;
        services.AddSingleton(authority);
        services.AddSingleton<Identity.EdgeCredentialStore>();
        services.AddSingleton(sp => new Identity.XdsAuthorization(authority, sp.GetRequiredService<Identity.EdgeCredentialStore>(), sp.GetRequiredService<TimeProvider>(), options.TlsEnabled));
        services.AddSingleton<INodeAuthorizer>(sp => sp.GetRequiredService<Identity.XdsAuthorization>());
        services.AddSingleton<Identity.EnrollmentContext>();
        services.AddSingleton<Edges.EdgeReportStore>();
        services.AddSingleton<Storage.IReplicatedState>(sp => new Storage.ReplicatedState(Storage.ControlPlaneDatabase.CredentialsTopic, sp.GetRequiredService<Identity.EdgeCredentialStore>().Refresh));
        services.AddHostedService(sp => new Identity.SecurityNotice(options, authority, caCreated, sp.GetRequiredService<ILogger<Identity.SecurityNotice>>()));
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ResourceFileSource>();
        services.AddSingleton<Storage.ControlPlaneDatabase>(_ => options.PostgresConnectionString is { Length: > 0 } postgres
            ? new Storage.PostgresControlPlaneDatabase(postgres)
            : new Storage.SqliteControlPlaneDatabase(options.DataDir));
        services.AddSingleton<Storage.IDesiredStatePersistence, Storage.DesiredStatePersistence>();
        services.AddSingleton<Evidence.EvidenceLedger>();
        services.AddSingleton<IXdsEventSink, Evidence.LedgerXdsEventSink>();
        services.AddSingleton<Storage.DesiredStateStore>();
        services.AddSingleton<Storage.IReplicatedState>(sp => new Storage.ReplicatedState(Storage.ControlPlaneDatabase.DesiredStateTopic, () => sp.GetRequiredService<Storage.DesiredStateStore>().Refresh()));
        services.AddHostedService<Storage.DesiredStateLoader>();
        services.AddSingleton<Auth.TokenStore>();
        services.AddSingleton<Auth.TenantStore>();
        services.AddAccessPolicies();
        services.AddSingleton<Edges.EdgeStatus>();
        services.AddRazorComponents();
        services.AddSingleton<Storage.IReplicatedState>(sp => new Storage.ReplicatedState(Storage.ControlPlaneDatabase.TokensTopic, sp.GetRequiredService<Auth.TokenStore>().Reload));
        services.AddHostedService<Storage.ReplicaSync>();
        services.AddHostedService<Auth.AdminTokenBootstrap>();
        services.AddHostedService(sp => sp.GetRequiredService<ResourceFileSource>());
        services.AddOpenApi("v1", o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new() { Title = "ZenMesh Flow API", Version = "v1", Description = "Desired state (edges, endpoints, targets, flows), apply bundles, status, tokens and evidence. Every /api/v1 call needs 'Authorization: Bearer <token>'." };
            return Task.CompletedTask;
        }));
        services.AddXdsProtocol(options.Limits);
        var bound = new BoundEndpoints();
        services.AddSingleton(bound);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var address = IPAddress.Parse(options.BindAddress);
            // An Envoy or an agent opens a handful of streams on a connection; a client that opens
            // hundreds is holding slots, not taking config.
            kestrel.Limits.Http2.MaxStreamsPerConnection = 100;
            kestrel.Listen(address, options.AdsPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (options.TlsEnabled)
                {
                    var now = DateTimeOffset.UtcNow;
                    listen.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = options.TlsCertificateFile is { Length: > 0 } cert
                            ? X509Certificate2.CreateFromPemFile(cert, options.TlsKeyFile)
                            : authority.IssueServer(options.TlsServerNames, now.AddMinutes(-5), now.AddYears(1)),
                        // Asked for, not demanded: enrollment has no credential yet. Each xDS call checks
                        // its caller's (XdsAuthorization), so a refusal says why instead of failing a handshake.
                        ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate,
                        ClientCertificateValidation = (_, _, _) => true,
                    });
                }
                bound.Ads.Capture(listen, tls: options.TlsEnabled);
            });
            kestrel.Listen(address, options.HttpPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                if (options.HttpTlsEnabled)
                {
                    var now = DateTimeOffset.UtcNow;
                    listen.UseHttps(options.HttpTlsCertificateFile is { Length: > 0 } cert
                        ? X509Certificate2.CreateFromPemFile(cert, options.HttpTlsKeyFile)
                        : authority.IssueServer(options.TlsServerNames, now.AddMinutes(-5), now.AddYears(1)));
                }
                bound.Http.Capture(listen, tls: options.HttpTlsEnabled);
            });
        });
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseMiddleware<Api.DatabaseUnavailableMiddleware>();
        app.UseConsoleHeaders();
        app.UseRouting();
        app.UseMiddleware<ListenerGate>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        // The xDS port: gRPC only. Edges prove who they are on each call (mutual TLS, checked by
        // XdsAuthorization against the node id they claim); enrollment proves it with its one-time token.
        var xds = app.MapGroup("").ServedOn(bound.Ads).AllowAnonymous();
        xds.MapXdsProtocol();
        xds.MapGrpcService<Identity.EdgeEnrollmentService>();
        xds.MapGrpcService<Edges.EdgeReportService>();

        // The HTTP port: the Flow API, admin views and metrics; each route declares who may call it.
        var http = app.MapGroup("").ServedOn(bound.Http);
        Api.FlowApiEndpoints.MapFlowApi(http);
        Api.ApplyEndpoints.MapApplyAndStatus(http);
        Auth.TokenEndpoints.MapTokens(http);
        Auth.TenantEndpoints.MapTenants(http);
        Evidence.EvidenceEndpoints.MapEvidence(http);
        Identity.EnrollmentEndpoints.MapEnrollment(http);
        OperatorConsole.ConsoleEndpoints.MapConsole(http);
        http.MapOpenApi("/api/v1/openapi.json").AllowAnonymous();
        http.MapXdsAdminViews().RequireAuthorization(Auth.AccessPolicies.Operator);
        http.MapGet("/admin/xds/source", (ResourceFileSource source) => Results.Json(source.Status)).RequireAuthorization(Auth.AccessPolicies.Operator);
        http.MapXdsServerMetrics().RequireAuthorization(Auth.AccessPolicies.Metrics);
        http.MapXdsHealth().AllowAnonymous();
        return app;
    }

    private static List<string> Validate(XdsServerOptions o)
    {
        var problems = new List<string>();
        if (!IPAddress.TryParse(o.BindAddress, out _))
        {
            problems.Add($"Xds:BindAddress '{o.BindAddress}' is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0.");
        }
        if (o.AdsPort is < 0 or > 65535)
        {
            problems.Add($"Xds:AdsPort (--ads-port) {o.AdsPort} is not a port; use 0-65535 (0 picks a free one).");
        }
        if (o.HttpPort is < 0 or > 65535)
        {
            problems.Add($"Xds:HttpPort (--http-port) {o.HttpPort} is not a port; use 0-65535 (0 picks a free one).");
        }
        if (o.AdsPort == o.HttpPort && o.AdsPort != 0)
        {
            problems.Add($"Xds:AdsPort and Xds:HttpPort are both {o.AdsPort}; they must differ.");
        }
        if (string.IsNullOrEmpty(o.TlsCertificateFile) != string.IsNullOrEmpty(o.TlsKeyFile))
        {
            problems.Add("Set both Xds:TlsCertificateFile and Xds:TlsKeyFile (PEM) to serve ADS over TLS, or neither.");
        }
        if (!o.TlsEnabled && !o.AllowInsecureRemote && IPAddress.TryParse(o.BindAddress, out var bind) && !IPAddress.IsLoopback(bind))
        {
            problems.Add($"Xds:BindAddress {o.BindAddress} would expose cleartext xDS, which trusts any node id, beyond this machine. Turn on mutual TLS (--tls), or set Xds:AllowInsecureRemote=true for a network you trust.");
        }
        if (string.IsNullOrEmpty(o.HttpTlsCertificateFile) != string.IsNullOrEmpty(o.HttpTlsKeyFile))
        {
            problems.Add("Set both Xds:HttpTlsCertificateFile and Xds:HttpTlsKeyFile (PEM) to serve the HTTP port over TLS, or neither (--http-tls alone uses a certificate from the control plane's CA).");
        }
        if (!o.HttpTlsEnabled && !o.AllowInsecureHttp && IPAddress.TryParse(o.BindAddress, out var httpBind) && !IPAddress.IsLoopback(httpBind))
        {
            problems.Add($"Xds:BindAddress {o.BindAddress} would expose the Flow API, whose bearer tokens grant control of the mesh, in cleartext beyond this machine. Serve it over TLS (--http-tls, or Xds:HttpTlsCertificateFile and Xds:HttpTlsKeyFile), or set Xds:AllowInsecureHttp=true behind a proxy that terminates TLS.");
        }
        if (o.AdminToken is { Length: > 0 } configured && (configured.Length < 32 || configured.Distinct().Count() < 10))
        {
            problems.Add($"Xds:AdminToken (ZENMESH_ADMIN_TOKEN) is {configured.Length} characters of {configured.Distinct().Count()} different ones; the operator's token must be long and random: at least 32 characters, e.g. $(openssl rand -hex 32). Or leave it unset, and the first start writes a random one to <data-dir>/admin-token.");
        }
        if (o.CredentialLifetime < TimeSpan.FromHours(1))
        {
            problems.Add($"Xds:CredentialLifetime {o.CredentialLifetime} is too short for agents to renew in time; use at least 01:00:00 (default 30 days).");
        }
        if (o.EnrollmentLifetime <= TimeSpan.Zero || o.EnrollmentLifetime > TimeSpan.FromHours(24))
        {
            problems.Add($"Xds:EnrollmentLifetime {o.EnrollmentLifetime} must be between 00:00:01 and 1.00:00:00 (default 00:15:00).");
        }
        if (o.Limits.MaxStreams < 1 || o.Limits.MaxConcurrentPushes < 1 || o.Limits.StreamQueueCapacity < 1)
        {
            problems.Add("Xds:Limits:MaxStreams, MaxConcurrentPushes and StreamQueueCapacity must each be at least 1.");
        }
        if (string.IsNullOrWhiteSpace(o.DataDir))
        {
            problems.Add("Xds:DataDir (--data-dir) is empty; name a directory for desired state, e.g. ./data.");
        }
        if (o.ReplicaPollInterval <= TimeSpan.Zero)
        {
            problems.Add($"Xds:ReplicaPollInterval {o.ReplicaPollInterval} must be positive, e.g. 00:00:05.");
        }
        ServiceOptionChecks.Postgres(problems, "Xds:PostgresConnectionString", o.PostgresConnectionString);
        if (o.ResourcesPollInterval <= TimeSpan.Zero)
        {
            problems.Add($"Xds:ResourcesPollInterval {o.ResourcesPollInterval} must be positive, e.g. 00:00:01.");
        }
        return problems;
    }
}
