using Microsoft.Extensions.Options;
using ZenMesh.Agent.Hosting;

// ZenMesh edge agent. "agent run" (the default) relays the edge's xDS config from the control plane
// to the local Envoy and ZenMesh services, from a persisted last-known-good cache.
var runArgs = args is ["run", .. var rest] ? rest : args;
if (args is ["--help" or "-h" or "help", ..])
{
    Console.WriteLine("""
        Usage: agent run --edge <tenant/edge> [--control-plane http://127.0.0.1:18000] [--state-dir ./agent-state]
                         [--xds-port 18001] [--status-port 19000] [--staleness-bound 00:05:00]

        Holds one outbound connection to the control plane; serves the edge's config to local clients
        on 127.0.0.1:<xds-port> (ADS, SotW and delta) from the newest stored generation, whether or not
        the control plane answers. GET http://127.0.0.1:<status-port>/status shows staleness.
        """);
    return 0;
}
try
{
    var app = AgentApp.Build(runArgs);
    await app.StartAsync().ConfigureAwait(false);
    var endpoints = app.Services.GetRequiredService<AgentEndpoints>();
    var options = app.Services.GetRequiredService<IOptions<AgentOptions>>().Value;
    Console.WriteLine($"ZenMesh agent for edge {options.Edge}: control plane {options.ControlPlane}; local xDS on {endpoints.XdsUri}, status on {endpoints.StatusUri}status. State in {Path.GetFullPath(options.StateDir)}. Ctrl-C stops.");
    await app.WaitForShutdownAsync().ConfigureAwait(false);
    return 0;
}
catch (OptionsValidationException e)
{
    Console.Error.WriteLine($"Invalid configuration:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", e.Failures)}");
    return 2;
}
catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException)
{
    Console.Error.WriteLine($"Cannot listen: {e.Message}. Another process may hold the port; choose others with --xds-port and --status-port.");
    return 2;
}
