using System.Net;
using Microsoft.Extensions.Options;
using ZenMesh.Contracts.V1;
using ZenMesh.Egress.Api;
using ZenMesh.Egress.Delivery;
using ZenMesh.Egress.Flows;
using ZenMesh.Egress.Intake;
using ZenMesh.Egress.Replays;
using ZenMesh.Egress.Scheduling;
using ZenMesh.Egress.Storage;
using ZenMesh.Hosting;
using ZenMesh.Secrets;
using ZenMesh.Observability;
using ZenMesh.Xds.Client;
using ZenMesh.Xds.Resources;

namespace ZenMesh.Egress.Hosting;

/// <summary>Builds the egress: flow config over xDS, the job stream from the ingester, the delivery store, one lane per flow, and the delivery API.</summary>
public static class EgressApp
{
    private static readonly Dictionary<string, string> Switches = new(StringComparer.Ordinal)
    {
        ["--port"] = "Egress:Port",
        ["--bind"] = "Egress:BindAddress",
        ["--data-dir"] = "Egress:DataDir",
        ["--secrets-dir"] = "Egress:SecretsDir",
        ["--xds"] = "Egress:Xds",
        ["--edge"] = "Egress:Edge",
        ["--ingester"] = "Egress:Ingester",
        ["--ingester-secret-file"] = "Egress:IngesterSecretFile",
        ["--ingester-credential"] = "Egress:IngesterCredentialDir",
        ["--health-port"] = "Egress:HealthPort",
        ["--health-bind"] = "Egress:HealthBindAddress",
        ["--envoy"] = "Egress:Envoy",
        ["--postgres"] = "Egress:Postgres",
        ["--postgres-file"] = "Egress:PostgresFile",
    };

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // --direct is a flag without a value.
        var (builder, options) = EdgeServiceBuilder.Create<EgressOptions>(
            args, [.. args.Where(a => a != "--direct")], EgressOptions.Section, Switches, Validate, "egress",
            args.Contains("--direct") ? [KeyValuePair.Create<string, string?>("Egress:Direct", "true")] : null);
        builder.Services.AddSingleton<FlowPolicies>();
        if (options.Postgres is { Length: > 0 })
        {
            builder.Services.AddSingleton<IDeliveryStore, PostgresDeliveryStore>();
        }
        else
        {
            builder.Services.AddSingleton<IDeliveryStore, SqliteDeliveryStore>();
        }
        builder.Services.AddSingleton<Deliverer>();
        builder.Services.AddSingleton<DeliveryCounters>();
        builder.Services.AddSingleton<IntakeStatus>();
        builder.Services.AddSingleton<ConfigStatus>();
        builder.Services.AddHostedService(s => new PolicySubscription(
            new PolicySource(options.Xds, options.Edge, options.DataDir),
            TypeUrls.FlowPolicy,
            flows => s.GetRequiredService<FlowPolicies>().Replace(flows.Resources.Values.Select(r => r.Body.Unpack<FlowPolicy>())),
            s.GetRequiredService<ConfigStatus>(),
            s.GetRequiredService<TimeProvider>(),
            s.GetRequiredService<ILoggerFactory>()));
        builder.Services.AddSingleton<DeliveryScheduler>();
        builder.Services.AddHostedService(s => s.GetRequiredService<DeliveryScheduler>());
        builder.Services.AddHostedService<JobReceiver>();
        builder.Services.AddSingleton<ReplayRunner>();
        builder.Services.AddHostedService(s => s.GetRequiredService<ReplayRunner>());
        builder.Services.AddServiceAccess(ServiceToken.LoadOrCreate(options.ApiToken, "Egress:ApiToken", options.DataDir));
        var endpoints = new EgressEndpoints();
        builder.Services.AddSingleton(endpoints);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Parse(options.BindAddress), options.Port, l => endpoints.Api.Capture(l));
            if (options.HealthPort is { } health)
            {
                k.Listen(IPAddress.Parse(options.HealthBindAddress), health, l => endpoints.Health.Capture(l));
            }
        });
        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseServiceAccess();
        var api = app.MapGroup("").ServedOn(endpoints.Api);
        api.MapDeliveryApi();
        api.MapReplayApi();
        api.MapEgressStatus(options.HealthPort is null ? api : app.MapGroup("").ServedOn(endpoints.Health));
        api.MapEgressMetrics();
        return app;
    }

    private static List<string> Validate(EgressOptions o)
    {
        var problems = new List<string>();
        ServiceOptionChecks.Bind(problems, EgressOptions.Section, o.BindAddress);
        ServiceOptionChecks.Port(problems, EgressOptions.Section, o.Port);
        ServiceOptionChecks.Edge(problems, EgressOptions.Section, o.Edge);
        ServiceOptionChecks.HttpUrl(problems, "Egress:Xds", "--xds", o.Xds, "the agent's relay, e.g. http://127.0.0.1:18001");
        ServiceOptionChecks.HttpUrl(problems, "Egress:Ingester", "--ingester", o.Ingester, "the ingester's stream port, e.g. http://127.0.0.1:8091");
        ServiceOptionChecks.HttpUrl(problems, "Egress:Envoy", "--envoy", o.Envoy, "the local Envoy's egress listener, e.g. http://127.0.0.1:10001 (or --direct)");
        ServiceOptionChecks.Postgres(problems, "Egress:Postgres", o.Postgres);
        if (o.IngesterCredentialDir is { Length: > 0 } && !o.Ingester.StartsWith("https://", StringComparison.Ordinal))
        {
            problems.Add($"Egress:IngesterCredentialDir (--ingester-credential) is set, but Egress:Ingester (--ingester) '{o.Ingester}' is not https; the stream is mutual TLS then: use e.g. https://127.0.0.1:8091.");
        }
        foreach (var (value, key, file) in new[] { (o.ApiToken, "Egress:ApiToken", ServiceToken.FileName), (o.IngesterSecret, "Egress:IngesterSecret", "stream-secret") })
        {
            if (ServiceToken.Weakness(value, key, file) is { } weak)
            {
                problems.Add(weak);
            }
        }
        if (o.MaxUnacked is < 1 or > 10_000)
        {
            problems.Add($"Egress:MaxUnacked {o.MaxUnacked} must be 1 to 10000 (default 500).");
        }
        if (o.Lease < TimeSpan.FromSeconds(1) || o.Lease > TimeSpan.FromHours(1))
        {
            problems.Add($"Egress:Lease {o.Lease} must be 00:00:01 to 01:00:00 (default 00:01:00).");
        }
        if (o.MaxRetryAfter <= TimeSpan.Zero)
        {
            problems.Add($"Egress:MaxRetryAfter {o.MaxRetryAfter} must be positive (default 01:00:00).");
        }
        if (o.SnippetBytes is < 0 or > 65_536)
        {
            problems.Add($"Egress:SnippetBytes {o.SnippetBytes} must be 0 to 65536 (default 1024).");
        }
        return problems;
    }
}
