using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using ZenMesh.Agent.Identity;
using ZenMesh.Agent.LastKnownGood;
using ZenMesh.Xds.LastKnownGood;
using ZenMesh.Agent.Status;
using ZenMesh.Agent.Upstream;
using ZenMesh.Hosting;

namespace ZenMesh.Agent.Hosting;

/// <summary>
/// Builds "agent run": the last-known-good store, the upstream stream, and on loopback only the
/// local xDS relay (the same protocol implementation as the control plane's) and the status port.
/// </summary>
public static class AgentApp
{
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--control-plane"] = "Agent:ControlPlane",
        ["--edge"] = "Agent:Edge",
        ["--state-dir"] = "Agent:StateDir",
        ["--xds-port"] = "Agent:XdsPort",
        ["--status-port"] = "Agent:StatusPort",
        ["--status-bind"] = "Agent:StatusBindAddress",
        ["--health-port"] = "Agent:HealthPort",
        ["--health-bind"] = "Agent:HealthBindAddress",
        ["--staleness-bound"] = "Agent:StalenessBound",
        ["--secrets-dir"] = "Agent:SecretsDir",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        if (Environment.GetEnvironmentVariable("ZENMESH_SECRETS_DIR") is { Length: > 0 } secrets)
        {
            builder.Configuration.AddInMemoryCollection([KeyValuePair.Create<string, string?>("Agent:SecretsDir", secrets)]);
        }
        builder.Configuration.AddCommandLine(args, ZenMesh.Observability.ServiceTelemetry.WithSwitches(Switches));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        var options = builder.Configuration.GetSection(AgentOptions.Section).Get<AgentOptions>() ?? new AgentOptions();
        var problems = new List<string>();
        EdgeCredential? credential = null;
        try
        {
            credential = CredentialFiles.Load(options.StateDir);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException or System.Security.Cryptography.CryptographicException)
        {
            problems.Add($"The credential in {Path.GetFullPath(CredentialFiles.Directory(options.StateDir))} cannot be read ({e.Message}); enroll again: agent enroll --bundle <file>.");
        }
        if (credential is not null && options.Edge is { } named && named != credential.NodeId)
        {
            problems.Add($"--edge is '{named}', but the credential in {Path.GetFullPath(CredentialFiles.Directory(options.StateDir))} is edge '{credential.NodeId}''s. Leave --edge out, or use another --state-dir for another edge.");
        }
        options = options with
        {
            Edge = options.Edge ?? credential?.NodeId,
            ControlPlane = options.ControlPlane ?? credential?.ControlPlane ?? AgentOptions.LocalControlPlane,
        };
        problems.AddRange(Validate(options));
        problems.AddRange(ZenMesh.Observability.ServiceTelemetry.Problems(builder.Configuration));
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(AgentOptions.Section, typeof(AgentOptions), problems);
        }
        ZenMesh.Observability.ServiceTelemetry.AddServiceTelemetry(builder, "agent", options.Edge);
        var services = builder.Services;
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<UpstreamReports>();
        services.AddSingleton<LocalVerdicts>();
        services.AddSingleton<IXdsEventSink>(sp => sp.GetRequiredService<LocalVerdicts>());
        // Before AddXdsProtocol, which registers the plain cache only when none is.
        services.AddSingleton<SnapshotCache>();
        services.AddSingleton<ISnapshotCache, EdgeSecretsCache>();
        services.AddXdsProtocol(new XdsLimits { MaxStreams = 256 });
        services.AddSingleton<AgentStatus>();
        services.AddSingleton(new CredentialHolder(credential));
        services.AddSingleton<UpstreamChannel>();
        services.AddSingleton(sp => new GenerationStore(options.GenerationsDir, options.Generations, sp.GetRequiredService<ILogger<GenerationStore>>()));
        services.AddHostedService<LastKnownGoodLoader>();
        services.AddHostedService<EdgeSecretsRefresher>();
        services.AddHostedService<UpstreamSync>();
        services.AddHostedService<CredentialRenewer>();
        services.AddHostedService<Heartbeat>();
        services.AddServiceAccess(ServiceToken.LoadOrCreate(options.ApiToken, "Agent:ApiToken", options.StateDir));
        var endpoints = new AgentEndpoints();
        services.AddSingleton(endpoints);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Loopback only: the agent needs no inbound port from outside its machine. Its status
            // may bind wider (--status-bind), for a kubelet's probes.
            kestrel.Listen(IPAddress.Loopback, options.XdsPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                endpoints.Xds.Capture(listen);
            });
            kestrel.Listen(IPAddress.Parse(options.StatusBindAddress), options.StatusPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                endpoints.Status.Capture(listen);
            });
            if (options.HealthPort is { } health)
            {
                kestrel.Listen(IPAddress.Parse(options.HealthBindAddress), health, listen => endpoints.Health.Capture(listen));
            }
        });
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseServiceAccess();
        // The relay: loopback only, node ids trusted (the processes of this edge).
        app.MapGroup("").ServedOn(endpoints.Xds).AllowAnonymous().MapXdsProtocol();
        var status = app.MapGroup("").ServedOn(endpoints.Status);
        (options.HealthPort is null ? status : app.MapGroup("").ServedOn(endpoints.Health)).MapXdsHealth().AllowAnonymous();
        // They name every local client, its subscriptions and NACK texts: a token beyond loopback.
        status.MapXdsAdminViews().RequireAuthorization(ServiceAccess.LocalOrToken);
        status.MapAgentStatus();
        return app;
    }

    private static List<string> Validate(AgentOptions o)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(o.Edge) || o.Edge.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
        {
            problems.Add($"Agent:Edge (--edge) is '{o.Edge}'; name this edge as tenant/edge, e.g. --edge default/local (its node id on the control plane), or enroll first (agent enroll --bundle <file>).");
        }
        if (!Uri.TryCreate(o.ControlPlane, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            problems.Add($"Agent:ControlPlane (--control-plane) '{o.ControlPlane}' is not an http(s) URL; use e.g. http://127.0.0.1:18000.");
        }
        if (o.XdsPort is < 0 or > 65535 || o.StatusPort is < 0 or > 65535)
        {
            problems.Add($"Agent:XdsPort ({o.XdsPort}) and Agent:StatusPort ({o.StatusPort}) must be ports, 0-65535 (0 picks a free one).");
        }
        if (!IPAddress.TryParse(o.HealthBindAddress, out _) || o.HealthPort is < 0 or > 65535)
        {
            problems.Add($"Agent:HealthPort (--health-port) {o.HealthPort} and Agent:HealthBindAddress (--health-bind) '{o.HealthBindAddress}' must be a port (0-65535) and an IP address.");
        }
        if (!IPAddress.TryParse(o.StatusBindAddress, out _))
        {
            problems.Add($"Agent:StatusBindAddress (--status-bind) is '{o.StatusBindAddress}'; use an IP address, e.g. 0.0.0.0 for every interface or 127.0.0.1 for loopback only.");
        }
        if (o.XdsPort == o.StatusPort && o.XdsPort != 0)
        {
            problems.Add($"Agent:XdsPort and Agent:StatusPort are both {o.XdsPort}; they must differ.");
        }
        if (ServiceToken.Weakness(o.ApiToken, "Agent:ApiToken") is { } weak)
        {
            problems.Add(weak);
        }
        if (o.Generations < 2)
        {
            problems.Add($"Agent:Generations is {o.Generations}; keep at least 2, so a corrupt newest file has one to fall back to.");
        }
        if (o.StalenessBound <= TimeSpan.Zero || o.ReconnectDelay <= TimeSpan.Zero || o.MaxReconnectDelay < o.ReconnectDelay)
        {
            problems.Add("Agent:StalenessBound and Agent:ReconnectDelay must be positive, and Agent:MaxReconnectDelay at least ReconnectDelay.");
        }
        if (string.IsNullOrWhiteSpace(o.StateDir))
        {
            problems.Add("Agent:StateDir (--state-dir) is empty; name a directory, e.g. ./agent-state.");
        }
        return problems;
    }
}
