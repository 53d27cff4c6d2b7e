using Microsoft.Extensions.Options;
using ZenMesh.Agent.Bootstrap;
using ZenMesh.Agent.Hosting;
using ZenMesh.Agent.Identity;
using ZenMesh.Hosting;

// ZenMesh edge agent: "run" (the default) relays the edge's xDS config from the control plane to the
// local Envoy and ZenMesh services from a persisted last-known-good cache; "enroll" turns a one-time
// bundle into the edge's credential.
const string Usage = """
    Usage:
      agent enroll --bundle <file> [--state-dir ./agent-state]
      agent bootstrap --out envoy.yaml [--edge <tenant/edge>] [--state-dir ./agent-state] [--xds-port 18001] [--admin-port 9901] [--agent-address 127.0.0.1] [--admin-address 127.0.0.1]
      agent bootstrap --direct --out envoy.yaml [--control-plane https://...] [--credential-dir <state-dir>/credential] [--admin-port 9901]
      agent run [--edge <tenant/edge>] [--control-plane <url>] [--state-dir ./agent-state]
                [--xds-port 18001] [--status-port 19000] [--status-bind 127.0.0.1] [--staleness-bound 00:05:00]
                [--log-format text|json] [--otlp <collector url>]

    run holds one outbound connection to the control plane (the enrolled one, or --control-plane;
    default http://127.0.0.1:18000) and serves the edge's config to local clients on
    127.0.0.1:<xds-port> (ADS, SotW and delta) from the newest stored generation, whether or not the
    control plane answers. GET http://127.0.0.1:<status-port>/status shows staleness.
    """;
switch (args)
{
    case ["--help" or "-h" or "help", ..]:
        Console.WriteLine(Usage);
        return 0;
    case ["enroll", .. var enrollArgs]:
        var bundle = Value(enrollArgs, "--bundle");
        if (bundle is null)
        {
            Console.Error.WriteLine("agent enroll needs --bundle <file>: the enrollment bundle from 'zenmesh enroll <edge>' or POST /api/v1/edges/<edge>/enrollment.");
            return 2;
        }
        return await EnrollCommand.RunAsync(bundle, Value(enrollArgs, "--state-dir") ?? "./agent-state", Console.Out, Console.Error).ConfigureAwait(false);
    case ["bootstrap", .. var bootstrapArgs]:
        return await BootstrapCommand.RunAsync(bootstrapArgs, Console.Out, Console.Error).ConfigureAwait(false);
}
var runArgs = args is ["run", .. var rest] ? rest : args;
return await ServiceMain.RunAsync(
    () => AgentApp.Build(runArgs),
    app =>
    {
        var endpoints = app.Services.GetRequiredService<AgentEndpoints>();
        var options = app.Services.GetRequiredService<IOptions<AgentOptions>>().Value;
        return $"ZenMesh agent for edge {options.Edge}: control plane {options.ControlPlane}; local xDS on {endpoints.Xds.Uri}, status on {endpoints.Status.Uri}status. State in {Path.GetFullPath(options.StateDir)}. Ctrl-C stops.";
    },
    "--xds-port and --status-port").ConfigureAwait(false);

static string? Value(string[] args, string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
